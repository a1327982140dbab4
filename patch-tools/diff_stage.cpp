#include "diff_stage.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "process.hpp"
#include "progress.hpp"

namespace kpb {

std::vector<DiffResult> run_diffs(const std::vector<DiffJob>& jobs, const std::string& diffgen,
                                  bool explain, int parallel, Log& log) {
  std::vector<DiffResult> results(jobs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      const DiffJob& j = jobs[i];
      std::filesystem::create_directories(std::filesystem::path(j.output).parent_path());
      std::vector<std::string> cmd = {diffgen, j.original, j.patched, "-o", j.output,
                                      "--target", j.target, "--symbols", j.symbols};
      if (explain) cmd.push_back("--explain");
      auto r = run_process(cmd, {}, &log);
      results[i] = {j, r.status, r.output};
    }
  };
  size_t n = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(parallel), jobs.size()));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return results;
}

std::string find_diffgen(const std::string& self_exe) {
  if (const char* e = std::getenv("KP_DIFFGEN"); e && *e) return e;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path self = fs::read_symlink(self_exe, ec);  // /proc/self/exe
  if (ec) self = fs::canonical(self_exe, ec);
  // A binary replaced while running reads as "<path> (deleted)".
  std::string p = self.string();
  const std::string deleted = " (deleted)";
  if (p.size() > deleted.size() && p.compare(p.size() - deleted.size(), deleted.size(), deleted) == 0)
    self = p.substr(0, p.size() - deleted.size());
  if (!ec) {
    for (fs::path cand : {self.parent_path().parent_path() / "diffgen" / "diffgen",
                          self.parent_path() / "diffgen"})
      if (access(cand.c_str(), X_OK) == 0) return cand.string();
  }
  return "diffgen";
}

}  // namespace kpb
