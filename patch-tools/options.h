// kp-build's command line as values: main.cpp fills Options, the pipeline reads it.
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
	// --kernel RELEASE (release/release_target.h): a target that is not SRC's own build.
	std::vector<std::string> kernels; // empty: SRC's vmlinux is the target; several: one
	                                  // module per release
	std::string config;               // overrides for a kernel that is not Debian's
	std::string symvers;
	std::string modules;
	bool resolve_only = false;         // print what was found for --kernel and stop
	bool check_only = false;           // stop after run-pre (no module written)
	bool cache_only = false;           // make SRC's cache entry, print its tree's path
	std::vector<std::string> prebuild; // with cache_only: original objects compiled now
	std::string sign_key;  // --sign-key: sign the module and kp_core.ko (stages/sign.h)
	std::string sign_cert; // --sign-cert
	bool replace = false;  // --replace: replaces the earlier patches of its set (issue 27)
	std::string set;       // --set NAME: its replace set; empty: the default set
};

// Is @name a valid replace set name (1 to KP_SET_NAME_MAX of [A-Za-z0-9_.-])?
bool valid_set_name(const std::string &name);

// "fix" -> "kp-fix"; names already starting with "kp" are kept.
std::string module_name_for(const std::string &name);

// The module's name and the output file: --name, else the output's name, else the first
// patch's. Kbuild names a module after its file, so they match. Throws Error when the
// output does not end in .ko. With several --kernel, -o names a directory (default .):
// DIR/RELEASE/MODULE.ko (@release, @targets: the release and how many there are).
struct ModuleOutput {
	std::string module;
	std::string path; // absolute
};
ModuleOutput module_output(const Options &options, const std::string &release = {},
                           size_t targets = 1);

// -j, else the number of CPUs.
int job_count(const Options &options);

// --cache-dir (absolute), else ~/.cache/kp-build.
std::string cache_dir(const Options &options);

} // namespace kp::build
