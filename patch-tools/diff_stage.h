// The diff stage: diffgen (as a library) on each rebuilt object pair, in parallel.  Objects
// of vmlinux come out finished: non-exported symbols reached through exported anchors.
#pragma once
#include <string>
#include <vector>

#include "diffgen.h"

namespace kp::ksym {
class SymbolTable;
} // namespace kp::ksym

namespace kp::build {

class Log;

struct DiffJob {
	std::string object;   // tree-relative, e.g. "fs/proc/cmdline.o"
	std::string original; // cache tree object
	std::string patched;  // work tree object
	std::string output;   // the finished patch object
	std::string target;   // "vmlinux" or a module name
	std::string symbols;  // vmlinux or the module's .ko of the running kernel
};

struct DiffResult {
	DiffJob job;
	kp::diffgen::Result result;
	std::string report; // diffgen's messages, then its --explain report when asked
};

// @vmlinux: the running kernel's symbols, shared by the vmlinux jobs.
std::vector<DiffResult> run_diffs(const std::vector<DiffJob> &jobs,
                                  const kp::ksym::SymbolTable &vmlinux, bool explain, int parallel,
                                  Log &log);

} // namespace kp::build
