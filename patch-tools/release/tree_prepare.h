// Tree preparation for --kernel RELEASE (issue 13): no full kernel build. A hard-linked copy
// of the unbuilt source tree, configured with the release's .config (olddefconfig) and
// prepared for compiling single objects (`make modules_prepare`: generated headers, objtool,
// genksyms, modpost), with kKcflags (-ffunction-sections -fdata-sections). Once per
// (source, release, config, compiler), in <cache>/debian/trees; later runs reuse it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cache_evict.h"

namespace kp::build {

class Log;

struct PrepareRequest {
	std::string src;       // unbuilt source tree; never written
	std::string debian;    // SRC's Debian version, as established; may be empty
	std::string release;   // the target's uname -r
	std::string config;    // the release's .config
	std::string cache_dir; // kp-build's cache root
	int jobs = 1;
};

struct PreparedTree {
	std::string dir;                    // the prepared tree
	std::string key;                    // 16 hex digits
	bool hit = false;                   // prepared by an earlier run
	double seconds = 0;                 // this run's preparation time (0 on a hit)
	std::vector<std::string> make_vars; // CC=, KERNELRELEASE=, KCFLAGS= for every make
	std::shared_ptr<InUse> in_use;      // held while the tree is used: not evicted
};

// The make variables that compile like the release's build: the compiler named by
// CONFIG_CC_VERSION_TEXT's first word (Debian's config says e.g. "gcc-12 (Debian ...)"), the
// release (Debian builds with KERNELRELEASE=<uname -r>, not the Makefile's version) and
// kKcflags. Throws Error when that compiler is not installed or is not the same version.
std::vector<std::string> release_make_vars(const std::string &config_text,
                                           const std::string &release);

PreparedTree prepare_tree(const PrepareRequest &request, Log *log);

// Compiles objects (paths relative to the tree, e.g. "fs/proc/cmdline.o") in tree with the
// prepared tree's variables; returns the make time. Throws Error with make's last lines.
double compile_objects(const PreparedTree &prepared, const std::string &tree,
                       const std::vector<std::string> &objects, int jobs, Log *log);

// Puts the release's Module.symvers into the prepared tree as a new file (never written
// through a link shared with SRC), so that modpost gives kp_core and the patch module the
// kernel's symbol CRCs (__versions) and knows what vmlinux exports.
void install_symvers(const PreparedTree &prepared, const std::string &symvers, Log *log);

struct PatchInfo;

// The patch's objects before and after, copied to <work>/orig and <work>/patched (flat
// names); (object, file) pairs. Both are compiled in the prepared tree itself, under its
// lock: in a copy elsewhere make relinks objtool and resolve_btfids (their dependency files
// hold absolute paths), ~30 s a time. The original objects stay there (the next patch of
// the same file finds them built). For the patched build the touched sources are set aside
// (renamed, so the inodes shared with SRC are never written), patched copies compiled, and
// everything restored; a journal lets the next run restore a tree an interrupted run left.
struct ObjectPairs {
	std::vector<std::pair<std::string, std::string>> orig, patched;
};
ObjectPairs compile_before_after(const PreparedTree &prepared,
                                 const std::vector<PatchInfo> &patches,
                                 const std::vector<std::string> &objects, const std::string &work,
                                 int jobs, Log *log);

// The release's dependency index (dry_run_deps.h): which objects of its config read which
// file. Made the first time a patch changes a header, under the tree's lock (a patched
// build sets sources aside), and cached beside the tree: <tree>.deps, in kbuild_deps.h's
// index format, and <tree>.deps.failed, the objects that could not be scanned and why.
struct DependencyIndex {
	std::string path;
	std::vector<std::string> failed;
	bool hit = false;
	size_t objects = 0; // objects scanned by this run (0 on a hit)
	double seconds = 0;
};
DependencyIndex dependency_index(const PreparedTree &prepared, int jobs, Log *log);

} // namespace kp::build
