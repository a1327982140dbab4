// Progress lines (one per stage, with its time) and the work-dir log file.
#pragma once
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace kpb {

class Log {
 public:
  Log() = default;
  explicit Log(const std::string& path);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  void open(const std::string& path);
  void write(const std::string& text);
  const std::string& path() const { return path_; }

 private:
  std::mutex mu_;
  std::FILE* f_ = nullptr;
  std::string path_;
};

struct StageTime {
  std::string name;
  double seconds;
  double compiler_seconds;  // time spent inside make/gcc during the stage
};

class Progress {
 public:
  Progress(Log& log, bool verbose) : log_(log), verbose_(verbose) {}
  // Prints "kp-build: <stage> <detail> (<t> s)" and records it.
  void stage_done(const std::string& name, double seconds, const std::string& detail,
                  double compiler_seconds = 0);
  void note(const std::string& text);     // always printed
  void verbose(const std::string& text);  // printed with -v, always logged
  const std::vector<StageTime>& stages() const { return stages_; }
  Log& log() { return log_; }

 private:
  Log& log_;
  bool verbose_;
  std::vector<StageTime> stages_;
};

// Measures one stage: Stage s(progress, "diff"); ...; s.done("3 objects");
class Stage {
 public:
  Stage(Progress& p, std::string name)
      : p_(p), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
  void add_compiler_time(double s) { compiler_ += s; }
  void done(const std::string& detail = {});

 private:
  Progress& p_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  double compiler_ = 0;
};

}  // namespace kpb
