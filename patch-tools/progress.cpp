#include "progress.hpp"

#include <cstdio>

#include "error.hpp"

namespace kpb {

Log::Log(const std::string& path) { open(path); }

Log::~Log() {
  if (f_) std::fclose(f_);
}

void Log::open(const std::string& path) {
  std::lock_guard<std::mutex> lk(mu_);
  if (f_) std::fclose(f_);
  f_ = std::fopen(path.c_str(), "a");
  if (!f_) throw_errno("cannot open log " + path);
  path_ = path;
}

void Log::write(const std::string& text) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!f_) return;
  std::fwrite(text.data(), 1, text.size(), f_);
  std::fflush(f_);
}

void Progress::stage_done(const std::string& name, double seconds, const std::string& detail,
                          double compiler_seconds) {
  stages_.push_back({name, seconds, compiler_seconds});
  char t[32];
  std::snprintf(t, sizeof t, "%.2f s", seconds);
  std::string line = "kp-build: " + name + (detail.empty() ? "" : ": " + detail) + " [" + t + "]";
  std::fprintf(stderr, "%s\n", line.c_str());
  log_.write("== " + line + "\n");
}

void Progress::note(const std::string& text) {
  std::fprintf(stderr, "kp-build: %s\n", text.c_str());
  log_.write("-- " + text + "\n");
}

void Progress::verbose(const std::string& text) {
  if (verbose_) std::fprintf(stderr, "kp-build: %s\n", text.c_str());
  log_.write("-- " + text + "\n");
}

void Stage::done(const std::string& detail) {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  p_.stage_done(name_, s, detail, compiler_);
}

}  // namespace kpb
