#include "cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "build.h"
#include "error.h"
#include "process.h"
#include "progress.h"
#include "support/files.h"
#include "tree_copy.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {
// 2: originals compiled on demand in a copy of the built tree (1: one full build).
constexpr int kCacheFormat = 2;

std::string seconds_text(double s)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.1f", s);
	return buf;
}

std::string seconds_since(std::chrono::steady_clock::time_point t)
{
	return seconds_text(
	        std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
}
} // namespace

uint64_t fnv1a64(const std::string &data, uint64_t seed)
{
	uint64_t h = seed;
	for (unsigned char c : data) {
		h ^= c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static std::string hex64(uint64_t v)
{
	char buf[17];
	std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
	return buf;
}

CacheKey make_cache_key(const KernelTree &tree)
{
	struct stat st {};
	stat(tree.src.c_str(), &st);
	CacheKey k;
	k.text = "format=" + std::to_string(kCacheFormat) + "\n" + "source=" + tree.src + "\n" +
	         "source_identity=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) +
	         "\n" + "release=" + tree.release + "\n" + "vmlinux_build_id=" + tree.build_id +
	         "\n" + "config=" + hex64(fnv1a64(tree.config_text)) + "\n" +
	         "compiler=" + tree.host_compiler + "\n" + "kcflags=" + kKcflags + "\n";
	k.hex = hex64(fnv1a64(k.text));
	return k;
}

std::string default_cache_dir()
{
	if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
		return std::string(x) + "/kp-build";
	const char *home = std::getenv("HOME");
	return std::string(home && *home ? home : "/tmp") + "/.cache/kp-build";
}

CacheEntry::CacheEntry(const std::string &cache_dir, const CacheKey &key)
    : root_(cache_dir), dir_(cache_dir + "/" + key.hex), key_(key)
{
	std::error_code ec;
	fs::create_directories(work_root(), ec);
	if (ec)
		throw Error("cannot create " + work_root() + ": " + ec.message());
	open_lock();
}

CacheEntry::~CacheEntry()
{
	if (lock_fd_ >= 0)
		close(lock_fd_);
}

void CacheEntry::open_lock()
{
	// Another kp-build evicting this entry may move the directory away between the two steps.
	for (int attempt = 0;; ++attempt) {
		std::error_code ec;
		fs::create_directories(dir_, ec);
		if (ec)
			throw Error("cannot create cache directory " + dir_ + ": " + ec.message());
		lock_fd_ = open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (lock_fd_ >= 0)
			return;
		if (errno != ENOENT || attempt == 10)
			throw_errno("cannot open cache lock in " + dir_);
	}
}

void CacheEntry::lock(bool exclusive)
{
	for (;;) {
		take(kp::support::lock_fd(lock_fd_,
		                          exclusive ? kp::support::LockMode::exclusive
		                                    : kp::support::LockMode::shared,
		                          dir_));
		// The entry may have been evicted while we waited: the lock must still be the one
		// at the entry's path, else start over with a new entry directory.
		struct stat held, now;
		if (fstat(lock_fd_, &held) != 0)
			throw_errno("stat the cache lock of " + dir_);
		if (stat((dir_ + "/lock").c_str(), &now) == 0 && now.st_dev == held.st_dev &&
		    now.st_ino == held.st_ino)
			return;
		close(lock_fd_);
		lock_fd_ = -1;
		open_lock();
	}
}

void CacheEntry::mark_used()
{
	// The lock file's mtime is the entry's last use (cache eviction keeps the newest).
	if (futimens(lock_fd_, nullptr) != 0)
		throw_errno("cannot touch the cache lock of " + dir_);
}

bool CacheEntry::complete() const
{
	std::ifstream in(dir_ + "/complete");
	if (!in)
		return false;
	std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	return text == key_.text && fs::is_directory(dir_ + "/tree");
}

bool CacheEntry::ensure_tree(const KernelTree &tree, Progress &progress)
{
	lock(false);
	if (complete()) {
		mark_used();
		return true;
	}
	lock(true); // converts; another kp-build may have made it meanwhile
	bool hit = complete();
	if (!hit)
		make_tree(tree, progress);
	lock(false);
	mark_used();
	return hit;
}

struct timespec first_build_product_time(const std::string &src)
{
	struct timespec best {};
	bool have = false;
	for (const char *p : {"scripts/basic/fixdep", "scripts/kconfig/conf",
	                      "include/config/auto.conf", ".config"}) {
		struct stat st;
		if (stat((src + "/" + p).c_str(), &st) != 0)
			continue;
		if (!have || st.st_mtim.tv_sec < best.tv_sec ||
		    (st.st_mtim.tv_sec == best.tv_sec && st.st_mtim.tv_nsec < best.tv_nsec)) {
			best = st.st_mtim;
			have = true;
		}
	}
	if (!have)
		clock_gettime(CLOCK_REALTIME, &best);
	return best;
}

void verify_shared_untouched(const std::string &tree, struct timespec since)
{
	for (auto it = fs::recursive_directory_iterator(tree);
	     it != fs::recursive_directory_iterator(); ++it) {
		struct stat st;
		if (lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink <= 1)
			continue;
		if (st.st_mtim.tv_sec > since.tv_sec ||
		    (st.st_mtim.tv_sec == since.tv_sec && st.st_mtim.tv_nsec > since.tv_nsec))
			throw Error("internal error: the build wrote " + it->path().string() +
			            ", a file shared with the source tree");
	}
}

void CacheEntry::make_tree(const KernelTree &tree, Progress &progress)
{
	std::string t = this->tree();
	std::error_code ec;
	fs::remove(dir_ + "/complete", ec);
	fs::remove(dir_ + "/originals", ec);
	if (fs::exists(t)) {
		progress.note("removing incomplete cache tree " + t);
		take(kp::support::remove_tree(t));
	}
	Log &log = progress.log();
	log.write("cache key:\n" + key_.text);
	auto start = std::chrono::steady_clock::now();
	size_t records = 0;
	CopyPolicy policy = built_tree_policy(first_build_product_time(tree.src));
	auto count_records = [&records, &policy](const std::string &rel, const struct stat &st) {
		records += is_rebuilt_object_record(rel);
		return policy(rel, st);
	};
	CopyStats cs = copy_tree(tree.src, t, count_records);
	if (records == 0)
		throw Error(tree.src + " has no Kbuild records of compiled objects (.*.o.cmd): " +
		            "build it with make first");
	progress.verbose(
	        "cache tree: " + std::to_string(cs.linked) + " files linked, " +
	        std::to_string(cs.copied) + " copied (" + std::to_string(cs.copied_bytes >> 20) +
	        " MiB), " + std::to_string(cs.skipped) + " objects left out, " +
	        std::to_string(records) + " object records (" + seconds_since(start) + " s)");
	std::ofstream out(dir_ + "/complete", std::ios::trunc);
	out << key_.text;
	if (!out)
		throw Error("cannot write " + dir_ + "/complete");
}

kp::support::FileLock CacheEntry::hold_build_lock() const
{
	return take(kp::support::FileLock::acquire(dir_ + "/build.lock"));
}

std::set<std::string> CacheEntry::originals() const
{
	std::set<std::string> done;
	std::ifstream in(dir_ + "/originals");
	for (std::string line; std::getline(in, line);)
		if (!line.empty())
			done.insert(line);
	return done;
}

size_t CacheEntry::compile_originals(const std::vector<std::string> &objects, int jobs,
                                     Progress &progress, double *seconds)
{
	std::set<std::string> done = originals();
	std::vector<std::string> missing;
	for (const auto &o : objects)
		if (!done.count(o))
			missing.push_back(o);
	if (missing.empty())
		return 0;
	struct timespec start;
	clock_gettime(CLOCK_REALTIME, &start);
	Log &log = progress.log();
	log.write("original objects compiled into the cache: " + std::to_string(missing.size()) +
	          "\n");
	// Many objects (--prebuild): progress as the full build showed it.
	std::unique_ptr<BuildProgress> bp;
	if (missing.size() >= 20)
		bp = std::make_unique<BuildProgress>(
		        "kp-build: original objects", missing.size(), isatty(STDERR_FILENO) == 1,
		        [](const std::string &text) { std::fputs(text.c_str(), stderr); });
	ObjectBuild b = build_objects(tree(), missing, jobs, log, seconds, "the original sources",
	                              bp ? [&bp](std::string_view out) { bp->feed(out); }
	                                 : std::function<void(std::string_view)>{});
	if (bp) {
		std::string summary = bp->finish(b.seconds);
		std::fprintf(stderr, "%s\n", summary.c_str());
		log.write("-- " + summary + "\n");
	}
	verify_shared_untouched(tree(), start);
	// Listed only once built: an object an interrupted make left behind is compiled again.
	done.insert(missing.begin(), missing.end());
	std::string tmp = dir_ + "/originals.new";
	{
		std::ofstream out(tmp, std::ios::trunc);
		for (const auto &o : done)
			out << o << "\n";
		if (!out)
			throw Error("cannot write " + tmp);
	}
	fs::rename(tmp, dir_ + "/originals");
	return missing.size();
}

} // namespace kp::build
