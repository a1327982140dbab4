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
	std::string object;             // tree-relative, e.g. "fs/proc/cmdline.o"
	std::string original;           // cache tree object
	std::string patched;            // work tree object
	std::string output;             // the finished patch object
	std::string target;             // "vmlinux" or a module name
	std::string symbols;            // vmlinux or the module's .ko of the running kernel
	std::vector<std::string> dwarf; // DWARF for entry sizes; empty: symbols, then the object
	std::vector<std::string> regenerated; // sections objtool makes for the linked module
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

// What the diff stage hands to the link: the changed objects' finished outputs.
struct DiffSummary {
	std::vector<std::string> link_objects;
	std::vector<std::string> anchored; // "object: what diffgen anchored", for --verbose
	size_t anchored_symbols = 0;
	size_t anchored_relocations = 0;
};

// Refusals and failures of any object end the run (Error of kind unsupported for refused
// changes, failed for diffgen failures, no_change when nothing changed); otherwise
// the changed objects are linked. With explain, each object's report goes to stderr.
DiffSummary collect_diffs(const std::vector<DiffResult> &results, bool explain);

} // namespace kp::build
