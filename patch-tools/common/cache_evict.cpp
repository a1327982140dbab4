#include "cache_evict.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "error.h"
#include "support/files.h"
#include "tree_copy.h"
#include "unique_fd.h"

namespace kp::build {
namespace {

struct Candidate {
	std::string name;
	struct timespec used {};
	std::string stale; // why it can never be used again, or empty
};

bool newer(const struct timespec &a, const struct timespec &b)
{
	return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

std::string key_field(const std::string &text, const std::string &name)
{
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);)
		if (line.rfind(name + "=", 0) == 0)
			return line.substr(name.size() + 1);
	return {};
}

// Why the entry can never be hit again, or empty.
std::string stale_reason(const std::string &dir)
{
	std::ifstream in(dir + "/complete");
	if (!in)
		return "incomplete build";
	std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	std::string src = key_field(text, "source"), identity = key_field(text, "source_identity");
	if (src.empty())
		return "no source in its key";
	struct stat st;
	if (stat(src.c_str(), &st) != 0)
		return "source " + src + " no longer exists";
	if (identity != std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino))
		return "source " + src + " was recreated";
	return {};
}

// Removes the entry unless another kp-build holds its lock. Returns false when busy.
bool remove_entry(const std::string &cache_dir, const std::string &name)
{
	std::string dir = cache_dir + "/" + name;
	UniqueFd fd(open((dir + "/lock").c_str(), O_RDWR | O_CLOEXEC));
	if (fd.get() < 0 && errno != ENOENT)
		throw_errno("cannot open " + dir + "/lock");
	if (fd.get() >= 0 &&
	    !take(kp::support::lock_fd(fd.get(), kp::support::LockMode::exclusive_try, dir)))
		return false;
	// Holding the lock: nobody uses the entry. Unlinking "complete" first means a kp-build
	// that still opens this directory sees an incomplete entry; the rename takes the tree out
	// of the cache at once (a kp-build waiting for the old lock notices it is gone and
	// starts over in a new directory).
	if (unlink((dir + "/complete").c_str()) != 0 && errno != ENOENT)
		throw_errno("unlink " + dir + "/complete");
	std::string trash = cache_dir + "/.evicted-" + name + "-" + std::to_string(getpid());
	take(kp::support::remove_tree(trash));
	if (rename(dir.c_str(), trash.c_str()) != 0)
		throw_errno("cannot move " + dir + " to " + trash);
	take(kp::support::remove_tree(trash));
	return true;
}

bool older_than(const struct timespec &t, time_t now, time_t seconds)
{
	return t.tv_sec + seconds < now;
}

// Newest mtime of a work directory and its log (written while kp-build runs).
struct timespec work_dir_time(const std::string &dir)
{
	struct stat st {
	}, log{};
	if (stat(dir.c_str(), &st) != 0)
		return {};
	if (stat((dir + "/kp-build.log").c_str(), &log) == 0 && newer(log.st_mtim, st.st_mtim))
		return log.st_mtim;
	return st.st_mtim;
}

std::vector<std::pair<std::string, struct timespec>> list_dir(const std::string &dir)
{
	std::vector<std::pair<std::string, struct timespec>> out;
	for (const auto &name : take(kp::support::list_directory(dir, true))) {
		struct stat st;
		if (lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
			out.emplace_back(name, st.st_mtim);
	}
	return out;
}

void evict_leftovers(const std::string &cache_dir, size_t max_trees, EvictionReport &report)
{
	time_t now = time(nullptr);
	// kp_core builds: one per version of kmod/core; the newest are kept, and any used lately
	// (a running kp-build may be linking against it).
	std::vector<std::pair<std::string, struct timespec>> cores;
	for (auto &[name, mtime] : list_dir(cache_dir)) {
		if (name.rfind("core-", 0) != 0)
			continue;
		if (name.find(".tmp.") != std::string::npos) {
			if (older_than(mtime, now, kCoreGraceSeconds)) {
				take(kp::support::remove_tree(cache_dir + "/" + name));
				report.removed.push_back(name + " (unfinished kp_core build)");
			}
			continue;
		}
		if (is_cache_entry_name(name.substr(5)))
			cores.emplace_back(name, mtime);
	}
	std::sort(cores.begin(), cores.end(),
	          [](const auto &a, const auto &b) { return newer(a.second, b.second); });
	for (size_t i = max_trees; i < cores.size(); ++i) {
		if (!older_than(cores[i].second, now, kCoreGraceSeconds))
			continue;
		take(kp::support::remove_tree(cache_dir + "/" + cores[i].first));
		report.removed.push_back(cores[i].first + " (older kp_core build)");
	}
	// Work directories left by failed runs (their log) or --keep-tmp.
	for (auto &[name, mtime] : list_dir(cache_dir + "/work")) {
		std::string dir = cache_dir + "/work/" + name;
		if (!older_than(work_dir_time(dir), now, kWorkDirMaxAgeSeconds))
			continue;
		take(kp::support::remove_tree(dir));
		report.removed.push_back("work/" + name + " (work directory unused for " +
		                         std::to_string(kWorkDirMaxAgeSeconds / 86400) + " days)");
	}
}

} // namespace

bool is_cache_entry_name(const std::string &name)
{
	return name.size() == 16 && std::all_of(name.begin(), name.end(), [](char c) {
		       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
	       });
}

size_t cache_max_from_env()
{
	const char *v = std::getenv("KP_BUILD_CACHE_MAX");
	if (!v || !*v)
		return kDefaultCacheMax;
	char *end = nullptr;
	errno = 0;
	unsigned long n = std::strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || *v == '-')
		throw Error(std::string("KP_BUILD_CACHE_MAX='") + v +
		            "' is not a number of cache entries");
	return static_cast<size_t>(n);
}

EvictionReport evict_cache_entries(const std::string &cache_dir, size_t max_trees,
                                   const std::string &current)
{
	EvictionReport report;
	if (max_trees == 0)
		return report;
	std::vector<Candidate> entries;
	{
		DIR *d = opendir(cache_dir.c_str());
		if (!d)
			throw_errno("cannot read cache directory " + cache_dir);
		std::unique_ptr<DIR, int (*)(DIR *)> guard(d, closedir);
		while (dirent *e = readdir(d)) {
			std::string name = e->d_name;
			if (!is_cache_entry_name(name) || name == current)
				continue;
			std::string dir = cache_dir + "/" + name;
			struct stat st;
			if (stat((dir + "/lock").c_str(), &st) != 0 && stat(dir.c_str(), &st) != 0)
				continue;
			if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
				continue;
			entries.push_back({name, st.st_mtim, stale_reason(dir)});
		}
	}
	std::sort(entries.begin(), entries.end(),
	          [](const Candidate &a, const Candidate &b) { return newer(a.used, b.used); });
	size_t kept = current.empty() ? 0 : 1;
	for (const auto &c : entries) {
		std::string why = c.stale;
		if (why.empty()) {
			if (kept < max_trees) {
				++kept;
				continue;
			}
			why = "least recently used, more than " + std::to_string(max_trees) +
			      " entries";
		}
		if (remove_entry(cache_dir, c.name))
			report.removed.push_back(c.name + " (" + why + ")");
		else
			report.busy.push_back(c.name);
	}
	evict_leftovers(cache_dir, max_trees, report);
	return report;
}

} // namespace kp::build
