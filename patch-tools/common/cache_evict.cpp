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
#include <filesystem>
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
	if (fd.get() >= 0 && flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return false;
		throw_errno("cannot lock " + dir);
	}
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
	DIR *d = opendir(dir.c_str());
	if (!d) {
		if (errno == ENOENT)
			return out;
		throw_errno("cannot read directory " + dir);
	}
	std::unique_ptr<DIR, int (*)(DIR *)> guard(d, closedir);
	while (dirent *e = readdir(d)) {
		std::string name = e->d_name;
		if (name == "." || name == "..")
			continue;
		struct stat st;
		if (lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
			out.emplace_back(name, st.st_mtim);
	}
	return out;
}

// Locks path exclusively without waiting; an invalid fd when another process holds it.
UniqueFd try_lock(const std::string &path)
{
	UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	if (fd.get() < 0)
		throw_errno("cannot open " + path);
	if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return UniqueFd();
		throw_errno("cannot lock " + path);
	}
	return fd;
}

// Work directories left by failed runs (their log) or --keep-tmp: those untouched for two
// days, and all but the kWorkDirsKept newest; never one whose kp-build still runs.
void evict_work_dirs(const std::string &work_root, time_t now, EvictionReport &report)
{
	std::vector<std::pair<std::string, struct timespec>> dirs;
	for (auto &[name, mtime] : list_dir(work_root))
		dirs.emplace_back(name, work_dir_time(work_root + "/" + name));
	std::sort(dirs.begin(), dirs.end(),
	          [](const auto &a, const auto &b) { return newer(a.second, b.second); });
	for (size_t i = 0; i < dirs.size(); ++i) {
		const std::string dir = work_root + "/" + dirs[i].first;
		bool old = older_than(dirs[i].second, now, kWorkDirMaxAgeSeconds);
		if (!old && i < kWorkDirsKept)
			continue;
		UniqueFd held = try_lock(dir + "/.lock");
		if (held.get() < 0)
			continue; // its kp-build is running
		take(kp::support::remove_tree(dir));
		report.removed.push_back(
		        "work/" + dirs[i].first +
		        (old ? " (work directory unused for " +
		                         std::to_string(kWorkDirMaxAgeSeconds / 86400) + " days)"
		             : " (more than " + std::to_string(kWorkDirsKept) +
		                         " work directories kept)"));
	}
}

// The entries of one per-release directory with their last use (the mtime of `<path>.use`,
// else of the entry), newest first; names accepted by `is_entry`.
template <typename Pred>
std::vector<std::pair<std::string, struct timespec>> release_entries(const std::string &dir,
                                                                     Pred is_entry)
{
	std::vector<std::pair<std::string, struct timespec>> out;
	for (auto &[name, mtime] : list_dir(dir)) {
		if (!is_entry(name))
			continue;
		struct stat st {};
		out.emplace_back(name, stat((dir + "/" + name + ".use").c_str(), &st) == 0
		                               ? st.st_mtim
		                               : mtime);
	}
	std::sort(out.begin(), out.end(),
	          [](const auto &a, const auto &b) { return newer(a.second, b.second); });
	return out;
}

void evict_release_dir(const std::string &dir, const char *what, size_t max_trees,
                       const std::vector<std::string> &current,
                       const std::vector<std::string> &companions, EvictionReport &report,
                       bool (*is_entry)(const std::string &))
{
	auto entries = release_entries(dir, is_entry);
	size_t kept = std::count_if(entries.begin(), entries.end(), [&](const auto &e) {
		return std::find(current.begin(), current.end(), dir + "/" + e.first) !=
		       current.end();
	});
	for (const auto &[name, used] : entries) {
		const std::string path = dir + "/" + name;
		if (std::find(current.begin(), current.end(), path) != current.end())
			continue;
		if (kept < max_trees) {
			++kept;
			continue;
		}
		UniqueFd held = try_lock(path + ".use");
		if (held.get() < 0) {
			report.busy.push_back(path);
			continue;
		}
		const std::string trash =
		        dir + "/.evicted-" + name + "-" + std::to_string(getpid());
		if (rename(path.c_str(), trash.c_str()) != 0)
			throw_errno("cannot move " + path + " to " + trash);
		take(kp::support::remove_tree(trash));
		for (const auto &suffix : companions) {
			std::error_code ec;
			std::filesystem::remove_all(path + suffix, ec);
		}
		report.removed.push_back(std::string(what) + " " + name +
		                         " (least recently used, more than " +
		                         std::to_string(max_trees) + ")");
	}
}

bool ends_with(const std::string &s, const std::string &suffix)
{
	return s.size() >= suffix.size() &&
	       s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A prepared tree's directory (not its dependency index, its unfinished copy or an evicted
// one); release names have dots, so the suffixes tell.
bool is_prepared_tree(const std::string &name)
{
	if (name.rfind(".", 0) == 0)
		return false;
	for (const char *s : {".tmp", ".deps", ".deps2", ".use", ".lock"})
		if (ends_with(name, s) || name.find(std::string(s) + ".") != std::string::npos)
			return false;
	return true;
}

bool is_source_dir(const std::string &name)
{
	return name.rfind(".", 0) != 0 && name.find('_') != std::string::npos;
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
	evict_work_dirs(cache_dir + "/work", now, report);
}

} // namespace

InUse::InUse(const std::string &path)
    : fd_(open((path + ".use").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644))
{
	if (fd_.get() < 0)
		throw_errno("cannot open " + path + ".use");
	while (flock(fd_.get(), LOCK_SH) != 0)
		if (errno != EINTR)
			throw_errno("cannot lock " + path + ".use");
	futimens(fd_.get(), nullptr); // its last use: now
}

WorkDirLock::WorkDirLock(const std::string &dir)
    : fd_(open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644))
{
	if (fd_.get() < 0 || flock(fd_.get(), LOCK_EX) != 0)
		throw_errno("cannot lock " + dir + "/.lock");
}

EvictionReport evict_release_cache(const std::string &cache_dir, size_t max_trees,
                                   const std::vector<std::string> &current)
{
	EvictionReport report;
	evict_work_dirs(cache_dir + "/work", time(nullptr), report);
	if (max_trees == 0)
		return report;
	const std::string debian_dir = cache_dir + "/debian";
	evict_release_dir(debian_dir + "/trees", "prepared tree", max_trees, current,
	                  {".lock", ".use", ".deps", ".deps.failed", ".deps2", ".deps2.failed",
	                   ".deps.lock", ".tmp"},
	                  report, is_prepared_tree);
	evict_release_dir(debian_dir + "/sources", "source", max_trees, current, {".use"}, report,
	                  is_source_dir);
	return report;
}

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
