// The cache of original builds: one copy of the user's tree per (source, identity, config,
// compiler), built once with -ffunction-sections -fdata-sections and reused by every patch.
#pragma once
#include <string>
#include <vector>

#include "kernel_info.h"

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

// The make command of the original build in the cache tree: the objects, vmlinux.a and the
// module objects with kKcflags; no final vmlinux or .ko link.
std::vector<std::string> original_build_command(const std::string &tree, int jobs,
                                                const std::string &config_text);

// Holds the cache entry's lock (shared while in use, exclusive while building).
class CacheEntry {
public:
	CacheEntry(const std::string &cache_dir, const CacheKey &key);
	~CacheEntry();
	CacheEntry(const CacheEntry &) = delete;
	CacheEntry &operator=(const CacheEntry &) = delete;

	// Makes sure the original build exists; returns true on a cache hit.
	bool ensure_original_build(const KernelTree &tree, int jobs, Progress &progress,
	                           double *compiler_seconds);

	const std::string &dir() const { return dir_; }
	const std::string &name() const { return key_.hex; }
	std::string tree() const { return dir_ + "/tree"; }
	std::string work_root() const { return root_ + "/work"; }

private:
	void open_lock();
	void lock(bool exclusive);
	void mark_used();
	bool complete() const;
	void build(const KernelTree &tree, int jobs, Progress &progress, double *compiler_seconds);

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
