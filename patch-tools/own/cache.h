// The cache of original builds: one copy of the user's built tree per (source, identity,
// config, compiler), in which the original objects a patch reaches are compiled with
// -ffunction-sections -fdata-sections, once each, and reused by every later patch.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "kernel_info.h"
#include "support/files.h"

namespace kp::build {

class Progress;

inline constexpr const char *kKcflags = "-ffunction-sections -fdata-sections";

struct CacheKey {
	std::string text; // the components, one "name=value" a line
	std::string hex;  // 16 hex digits (FNV-1a 64 of text)
};

CacheKey make_cache_key(const KernelTree &tree);

uint64_t fnv1a64(const std::string &data, uint64_t seed = 0xcbf29ce484222325ULL);

std::string default_cache_dir();

// Holds the cache entry's lock (shared while in use, exclusive while the tree is made).
//
// The entry's tree is a copy of the user's built tree: sources hard-linked, build products
// copied, the kernel's objects left out (their Kbuild records kept). Each original object is
// compiled there with kKcflags the first time a patch reaches it, and kept: a tree costs a
// copy (seconds), not a kernel build, and a patch compiles only its own objects.
class CacheEntry {
public:
	CacheEntry(const std::string &cache_dir, const CacheKey &key);
	~CacheEntry();
	CacheEntry(const CacheEntry &) = delete;
	CacheEntry &operator=(const CacheEntry &) = delete;

	// Makes sure the entry's tree exists; returns true when an earlier run made it.
	bool ensure_tree(const KernelTree &tree, Progress &progress);

	// One make at a time compiles in the tree, and no copy of it is made meanwhile: held
	// around compile_originals() and the patched copy.
	kp::support::FileLock hold_build_lock() const;

	// With the build lock held: compiles, with kKcflags, the objects among `objects` that
	// no earlier run compiled (the entry's list of originals). Returns how many it compiled.
	// `seconds` (optional) accumulates the time in make.
	size_t compile_originals(const std::vector<std::string> &objects, int jobs,
	                         Progress &progress, double *seconds);

	const std::string &dir() const { return dir_; }
	const std::string &name() const { return key_.hex; }
	std::string tree() const { return dir_ + "/tree"; }
	std::string work_root() const { return root_ + "/work"; }

private:
	void open_lock();
	void lock(bool exclusive);
	void mark_used();
	bool complete() const;
	void make_tree(const KernelTree &tree, Progress &progress);
	std::set<std::string> originals() const;

	std::string root_, dir_;
	CacheKey key_;
	int lock_fd_ = -1;
};

// Newest mtime among the files a kernel build creates first: files older than this in the
// user's tree predate the build (sources).
struct timespec first_build_product_time(const std::string &src);

// Throws when a file the cache shares with the user's tree (st_nlink > 1) was modified after
// `since` (defence in depth: the build must never write a shared file).
void verify_shared_untouched(const std::string &tree, struct timespec since);

} // namespace kp::build
