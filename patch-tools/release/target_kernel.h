// `--kernel RELEASE`: what kp-build needs about a target kernel that is not SRC's own build,
// found in order: the overrides (--config, --symvers, --vmlinux, --modules), the files
// installed for RELEASE, Debian's packages for RELEASE fetched into the cache.
#pragma once
#include <string>

namespace kp::build {

class DebianArchive;

struct TargetRequest {
	std::string release;
	std::string src;    // the source tree the patch is built from; empty: no version check
	std::string config; // overrides, empty when not given
	std::string symvers;
	std::string vmlinux;    // a vmlinux with symbols, or a System.map
	std::string modules;    // the release's /lib/modules/RELEASE
	std::string root = "/"; // installed files are looked up below root
	// A vmlinux with symbols is needed (run-pre of vmlinux functions, kallsyms positions):
	// Debian has it only in the -dbg package (283 MB), fetched then, without its DWARF.
	bool need_vmlinux = false;
};

struct TargetKernel {
	std::string release;
	std::string origin;          // where the files came from, for messages
	std::string package_version; // Debian's version of the image package; empty if none
	std::string config;
	std::string symvers;
	std::string modules;
	std::string vmlinux;    // with symbols; empty when not found
	std::string system_map; // a real one (not Debian's stub); empty when not found
	std::string vmlinuz;    // empty when not found
	std::string describe() const;
};

// Resolves request; archive may be null (no fetching). Nothing is fetched before the
// versions agree. Throws Error with a one-line reason: SRC's version differs from the
// kernel's, a package is missing or the archive cannot be reached, or the release is not
// Debian's and the overrides do not cover what is missing.
TargetKernel resolve_target(const TargetRequest &request, DebianArchive *archive);

// Debian's image package ships a System.map of one line pointing at the -dbg package.
bool is_stub_system_map(const std::string &path);

// The upstream version in a .config's header ("# Linux/x86 6.1.192 Kernel Configuration").
std::string config_upstream_version(const std::string &config_path);

} // namespace kp::build
