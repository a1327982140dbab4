// Running the diffgen CLI on each rebuilt object pair, in parallel.
#pragma once
#include <string>
#include <vector>

namespace kpb {

class Log;

struct DiffJob {
  std::string object;    // tree-relative, e.g. "fs/proc/cmdline.o"
  std::string original;  // cache tree object
  std::string patched;   // work tree object
  std::string output;    // diffgen's output object
  std::string target;    // "vmlinux" or a module name
  std::string symbols;   // vmlinux or the module's .ko of the running kernel
};

struct DiffResult {
  DiffJob job;
  int status = -1;     // diffgen: 0 changed, 1 error, 2 unsupported, 3 no change
  std::string report;  // diffgen's output (the --explain report when asked)
};

std::vector<DiffResult> run_diffs(const std::vector<DiffJob>& jobs, const std::string& diffgen,
                                  bool explain, int parallel, Log& log);

// The diffgen CLI: $KP_DIFFGEN, else next to kp-build in the build tree
// (<build>/diffgen/diffgen), else `diffgen` on PATH.
std::string find_diffgen(const std::string& self_exe);

}  // namespace kpb
