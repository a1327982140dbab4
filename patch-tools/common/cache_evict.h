// Bounding the cache: old tree entries (one full kernel build each) are removed.
//
// Policy: a tree entry whose source tree is gone or was recreated (its "source" path no
// longer exists or has another identity) or whose build never completed is removed; of the
// rest, the `max_trees` most recently used are kept (use = the mtime of the entry's lock
// file, touched by every kp-build run that uses it). The entry of the running kp-build always
// counts as kept. Entries another kp-build holds locked are never touched.
// Also removed: kp_core builds (core-<hex>) beyond the `max_trees` most recently used and
// unused for an hour, unfinished kp_core builds older than an hour, and work directories
// (failed runs' logs, --keep-tmp) untouched for two days or beyond the kWorkDirsKept newest,
// unless a kp-build still holds them (WorkDirLock).
//
// --kernel's per-release cache (<cache>/debian) is bounded the same way by
// evict_release_cache: of the prepared trees (trees/<release>-<key>, with their dependency
// index) and of the sources kp-build extracted (sources/<package>_<version>), the
// `max_trees` most recently used of each are kept; one a kp-build holds (InUse) is never
// removed.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "unique_fd.h"

namespace kp::build {

inline constexpr size_t kDefaultCacheMax = 3;
inline constexpr long kCoreGraceSeconds = 3600;
inline constexpr long kWorkDirMaxAgeSeconds = 2 * 86400;
inline constexpr size_t kWorkDirsKept = 10;

// Held (a shared flock on `<path>.use`, whose mtime says when it was last used) while a
// kp-build uses a prepared tree or an extracted source: evict_release_cache leaves it alone.
class InUse {
public:
	explicit InUse(const std::string &path);
	InUse(InUse &&) = default;
	InUse &operator=(InUse &&) = default;

private:
	UniqueFd fd_;
};

// Held (an exclusive flock on `<dir>/.lock`) by the kp-build whose work directory dir is.
class WorkDirLock {
public:
	explicit WorkDirLock(const std::string &dir);
	WorkDirLock(WorkDirLock &&) = default;
	WorkDirLock &operator=(WorkDirLock &&) = default;

private:
	UniqueFd fd_;
};

struct EvictionReport {
	std::vector<std::string> removed; // entry names (16 hex digits) with the reason
	std::vector<std::string> busy;    // entries to remove that were in use
};

// `max_trees` 0: no limit and nothing removed. `current`: the entry name in use by the caller.
EvictionReport evict_cache_entries(const std::string &cache_dir, size_t max_trees,
                                   const std::string &current);

// cache_dir: kp-build's cache root. `current`: paths (a tree, a source) the caller uses.
// Also bounds the work directories, as evict_cache_entries does.
EvictionReport evict_release_cache(const std::string &cache_dir, size_t max_trees,
                                   const std::vector<std::string> &current);

// KP_BUILD_CACHE_MAX when set (a number; throws Error naming the value otherwise), else
// kDefaultCacheMax.
size_t cache_max_from_env();

// True for the name of a tree entry (16 lowercase hex digits).
bool is_cache_entry_name(const std::string &name);

} // namespace kp::build
