// `--kernel RELEASE`: what kp-build needs about a target kernel that is not SRC's own build,
// found in order: the overrides (--config, --symvers, --vmlinux, --modules), the files
// installed for RELEASE, Debian's packages for RELEASE fetched into the cache.
#pragma once
#include <memory>
#include <string>

#include "cache_evict.h"

namespace kp::build {

class DebianArchive;

struct TargetRequest {
	std::string release;
	// The source tree the patch is built from; empty: Debian's source of the release (its
	// linux-source-X.Y of the image's version), fetched and extracted into the cache when
	// need_source, else none.
	std::string src;
	bool need_source = false;
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
	std::string src;        // the source tree to build from; empty when none was needed
	std::string src_debian; // the Debian version src was established to be; may be empty
	std::string src_from;   // how: "debian/changelog", "its files", "extracted by kp-build"
	std::shared_ptr<InUse> src_in_use; // a source kp-build extracted: held, not evicted
	std::string describe() const;
};

// Resolves request; archive may be null (no fetching). Nothing but the source (to compare
// SRC's files with, when SRC has no debian/changelog) is fetched before the versions agree.
// Throws Error with a one-line reason: SRC's version differs from the kernel's, a package is
// missing or the archive cannot be reached, or the release is not Debian's and the overrides
// do not cover what is missing.
TargetKernel resolve_target(const TargetRequest &request, DebianArchive *archive);

// The path modules.order's text gives for module `name` (e.g. "kernel/fs/fuse/fuse.ko"; a
// file name's '-' is '_' in a module name), empty when it has none.
std::string module_order_path(const std::string &modules_order, const std::string &name);

// Debian's image package ships a System.map of one line pointing at the -dbg package.
bool is_stub_system_map(const std::string &path);

// The upstream version in a .config's header ("# Linux/x86 6.1.192 Kernel Configuration").
std::string config_upstream_version(const std::string &config_path);

} // namespace kp::build
