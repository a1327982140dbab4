// Bounding the cache: old tree entries (one full kernel build each) are removed.
//
// Policy: a tree entry whose source tree is gone or was recreated (its "source" path no
// longer exists or has another identity) or whose build never completed is removed; of the
// rest, the `max_trees` most recently used are kept (use = the mtime of the entry's lock
// file, touched by every kp-build run that uses it). The entry of the running kp-build always
// counts as kept. Entries another kp-build holds locked are never touched.
// Also removed: kp_core builds (core-<hex>) beyond the `max_trees` most recently used and
// unused for an hour, unfinished kp_core builds older than an hour, and work directories
// (failed runs' logs, --keep-tmp) untouched for two days.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace kp::build {

inline constexpr size_t kDefaultCacheMax = 3;
inline constexpr long kCoreGraceSeconds = 3600;
inline constexpr long kWorkDirMaxAgeSeconds = 2 * 86400;

struct EvictionReport {
	std::vector<std::string> removed; // entry names (16 hex digits) with the reason
	std::vector<std::string> busy;    // entries to remove that were in use
};

// `max_trees` 0: no limit and nothing removed. `current`: the entry name in use by the caller.
EvictionReport evict_cache_entries(const std::string &cache_dir, size_t max_trees,
                                   const std::string &current);

// KP_BUILD_CACHE_MAX when set (a number; throws Error naming the value otherwise), else
// kDefaultCacheMax.
size_t cache_max_from_env();

// True for the name of a tree entry (16 lowercase hex digits).
bool is_cache_entry_name(const std::string &name);

} // namespace kp::build
