// Link stage: the kmod/patch template + the resolved objects -> the patch module, with
// Kbuild against the kernel tree (M= builds write only into their own directory).
#pragma once
#include <string>
#include <vector>

namespace kp::build {

class Log;

struct LinkRequest {
	std::string template_dir;         // kmod/patch
	std::string kdir;                 // kernel tree to build against
	std::string out_dir;              // created by the template's Makefile
	std::string module;               // module name
	std::vector<std::string> objects; // resolved objects (unique base names)
	std::string build_id;
	std::string release;
	std::vector<std::string> sources;   // "fix.diff:sha256", in apply order
	std::string core_symvers;           // kp_core's Module.symvers
	std::vector<std::string> make_vars; // e.g. CC=gcc-12 KERNELRELEASE=... for a prepared tree
	bool replace = false;               // the kp_patch record's KP_PATCH_REPLACE
	std::string set;                    // its replace set; empty: the default set
	int jobs = 1;
};

// Returns the path of the built .ko. Throws Error with the build's messages.
std::string link_module(const LinkRequest &req, Log &log, double *make_seconds = nullptr);

// The core module kp_core.ko built from kmod/core against `kdir`, kept in `cache_dir`
// (rebuilt when the core's sources change).
struct CoreModule {
	std::string ko;
	std::string symvers;
	bool built_now = false;
};
CoreModule ensure_core_module(const std::string &kp_source_dir, const std::string &kdir,
                              const std::string &cache_dir, Log &log,
                              double *make_seconds = nullptr,
                              const std::vector<std::string> &make_vars = {});

// The patch module goes to `output`, the core it was linked against beside it as
// kp_core.ko (replaced when it differs, e.g. another kp version's). Both atomically.
struct Installed {
	std::string core;         // where kp_core.ko is
	bool core_copied = false; // written by this run
};
Installed install_module(const std::string &ko, const std::string &core_ko,
                         const std::string &output);

// sha256 of a file, hex (via sha256sum).
std::string sha256_file(const std::string &path, Log *log);

// A module name from a patch file name: "fs-proc fix.diff" -> "fs_proc_fix".
std::string sanitize_module_name(const std::string &text);

} // namespace kp::build
