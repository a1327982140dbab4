// kp-build's stages in order: setup, original build (or cache hit), patched build, diff
// (diffgen as a library; objects come out finished, anchors included), link, module check.
#pragma once
#include <string>
#include <vector>

namespace kp::build {

struct Options {
	std::string src;
	std::vector<std::string> patches;
	std::string output;    // empty: ./<module>.ko
	std::string name;      // empty: from the first patch file
	std::string vmlinux;   // empty: <src>/vmlinux
	int jobs = 0;          // 0: number of CPUs
	std::string cache_dir; // empty: ~/.cache/kp-build
	int cache_max =
	        -1; // tree entries kept in the cache; -1: $KP_BUILD_CACHE_MAX or 3; 0: no limit
	bool explain = false;
	bool keep_tmp = false;
	bool verbose = false;
	// --kernel RELEASE (target_stage.h): a target that is not SRC's own build.
	std::string kernel; // empty: SRC's vmlinux is the target
	std::string config; // overrides for a kernel that is not Debian's
	std::string symvers;
	std::string modules;
	bool resolve_only = false; // print what was found for --kernel and stop
	bool check_only = false;   // --kernel: stop after run-pre (no module written)
	bool cache_only = false;   // build the original tree into the cache, print its path
};

// Returns the exit status (0 built, 1 error, 2 unsupported, 3 no functional change); messages
// go to stderr.
int run_kp_build(const Options &options);

// "fix" -> "kp-fix"; names already starting with "kp" are kept.
std::string module_name_for(const std::string &name);

// The module's name and the output file: --name, else the output's name, else the first
// patch's. Kbuild names a module after its file, so they match. Throws Error when the
// output does not end in .ko.
struct ModuleOutput {
	std::string module;
	std::string path; // absolute
};
ModuleOutput module_output(const Options &options);

} // namespace kp::build
