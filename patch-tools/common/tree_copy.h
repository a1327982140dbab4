// Cheap copies of kernel trees that never share a file the build writes.
//
// Sources are hard-linked (never written by Kbuild); everything else is copied or left out.
// Before a file of a copy is modified, break_hard_link() gives it its own inode (copy then
// rename), so the file it was linked to is never written.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <set>
#include <string>

namespace kp::build {

struct CopyStats {
	uint64_t linked_dirs = 0; // directories made a symlink to the source's (see copy_tree)
	uint64_t linked = 0;
	uint64_t copied = 0;
	uint64_t copied_bytes = 0;
	uint64_t skipped = 0;
};

enum class CopyAction {
	kLink,
	kCopy,
	kCopyRelocated, // copy, replacing the source root's absolute path by the copy's in the
	                // text (dependency records of tools built with absolute O= paths)
	kSkip,
};

// Decides, for a regular file (path relative to the root, its stat), what the copy holds.
using CopyPolicy = std::function<CopyAction(const std::string &rel, const struct stat &st)>;
// Optional cheap test on the name alone: false leaves the file out without a stat().
// For a directory, rel ends in '/': false leaves the whole subtree out.
using NameFilter = std::function<bool(const std::string &rel)>;

// Optional: may directory `rel` (no trailing '/') of the copy be a symlink to the source's?
using DirLinkFilter = std::function<bool(const std::string &rel)>;

// Recreates the directory tree src under dst (which must not exist), symlinks as symlinks.
// With `link_dir`, a directory it allows whose whole subtree the copy would only hard-link
// (every file kLink and wanted; nothing left out) becomes one symlink to the source
// directory instead: the same files for every reader, at the cost of one entry. Nothing of
// the copy may be written below such a directory (the caller allows none it will change).
CopyStats copy_tree(const std::string &src, const std::string &dst, const CopyPolicy &policy,
                    const NameFilter &wanted = {}, const DirLinkFilter &link_dir = {});

// Object-like build products that a rebuild recreates (.o, .a, .ko, their .cmd/.d records,
// vmlinux and its intermediates). Never needed in a copy that only rebuilds some objects.
bool is_object_product(const std::string &rel);

// Host programs' build products (scripts/, tools/ and any */tools/: fixdep, modpost,
// objtool, relocs): a copy keeps their objects, or `make <obj>.o` would link them again.
bool is_host_program_path(const std::string &rel);

// Policy for the cache's copy of a user's built tree: link files older than `cutoff`
// (sources, from before the tree's first build step) unless they are object products; copy
// newer files (products of the user's build, or files edited since: copies are always
// safe). Of the kernel's object products only the objects' Kbuild records (.o.cmd: what
// each object reads and how it was compiled) are kept; the objects themselves are compiled
// again, with kKcflags, when a patch reaches them. Host programs keep their objects.
CopyPolicy built_tree_policy(struct timespec cutoff);

// Kconfig's per-symbol stamps (include/config/FOO_BAR: empty files whose mtime is when
// CONFIG_FOO_BAR last changed). Kbuild names them only as $(wildcard ...) dependencies, so a
// copy without them builds the same and never rebuilds more.
bool is_kconfig_symbol_stamp(const std::string &rel);

// Policy for a patched copy of the cache tree: link what the cache shares with the user
// tree (sources, st_nlink > 1), leave out object products and Kconfig's symbol stamps
// (700 empty files that cost ~0.3 s to create), copy the rest (generated headers, host
// tools, .cmd records).
CopyPolicy work_tree_policy();

// With work_tree_policy: only what a `make <obj>.o` of the given objects reads: the top
// level, include/, arch/x86/, scripts/, usr/, objtool's part of tools/, the top-level Kbuild's
// inputs, the objects' directories and `needed_files` (their Kbuild dependency records).
// Kconfig files are left out: the copy's include/config/auto.conf.cmd is relocated to name
// none (kCopyRelocated), so the unchanged .config never triggers a syncconfig.
// The name filter that goes with it (every file outside those places is left out).
NameFilter sparse_work_tree_filter(std::set<std::string> needed_dirs,
                                   std::set<std::string> needed_files);

// Gives `path` its own inode with the same content, mode and mtime (copy then rename) when
// it has other hard links. Returns true when a link was broken.
bool break_hard_link(const std::string &path);

// Copies one regular file (content, mode, mtime) to a new path.
void copy_file_preserving(const std::string &src, const std::string &dst, const struct stat &st);

} // namespace kp::build
