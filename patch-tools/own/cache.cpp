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

#include "error.h"
#include "process.h"
#include "progress.h"
#include "support/files.h"
#include "tree_copy.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {
constexpr int kCacheFormat = 1;

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

std::string tail_lines(const std::string &text, size_t n)
{
	size_t pos = text.size();
	for (size_t i = 0; i <= n && pos > 0; ++i) {
		pos = text.rfind('\n', pos - 1);
		if (pos == std::string::npos)
			return text;
	}
	return text.substr(pos + 1);
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

std::vector<std::string> original_build_command(const std::string &tree, int jobs,
                                                const std::string &config_text)
{
	// Everything kp-build reads from the cache tree comes from compiling: the objects and
	// their .cmd records, vmlinux.a and lib.a (what is built in), modules.order and *.mod
	// (what is a module). `vmlinux_o` stops at vmlinux.o (one `ld -r`); the final vmlinux link
	// is never needed (symbols come from the user's vmlinux) and costs three full links that
	// are slow with -ffunction-sections (tens of thousands of orphan sections each).
	// `modules` with KBUILD_MODPOST_NOFINAL=1 compiles the module objects and runs modpost
	// but links no .ko (the user's tree has them).
	std::vector<std::string> cmd = {"make",
	                                "-C",
	                                tree,
	                                "-j" + std::to_string(jobs),
	                                std::string("KCFLAGS=") + kKcflags,
	                                "vmlinux_o"};
	if (config_text.find("\nCONFIG_MODULES=y\n") != std::string::npos ||
	    config_text.rfind("CONFIG_MODULES=y\n", 0) == 0) {
		cmd.push_back("modules");
		cmd.push_back("KBUILD_MODPOST_NOFINAL=1");
	}
	return cmd;
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
	return text == key_.text && fs::exists(dir_ + "/tree/vmlinux.a");
}

bool CacheEntry::ensure_original_build(const KernelTree &tree, int jobs, Progress &progress,
                                       double *compiler_seconds)
{
	lock(false);
	if (complete()) {
		mark_used();
		return true;
	}
	lock(true); // converts; another kp-build may have finished it meanwhile
	bool hit = complete();
	if (!hit)
		build(tree, jobs, progress, compiler_seconds);
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

void CacheEntry::build(const KernelTree &tree, int jobs, Progress &progress,
                       double *compiler_seconds)
{
	std::string t = this->tree();
	std::error_code ec;
	fs::remove(dir_ + "/complete", ec);
	if (fs::exists(t)) {
		progress.note("removing incomplete cache tree " + t);
		take(kp::support::remove_tree(t));
	}
	Log &log = progress.log();
	log.write("cache key:\n" + key_.text);
	auto cutoff = first_build_product_time(tree.src);
	auto t_copy = std::chrono::steady_clock::now();
	// The user's build left one record per object: what the original build compiles again.
	size_t expected = 0;
	CopyStats cs = copy_tree(tree.src, t,
	                         [&expected, policy = source_tree_policy(cutoff)](
	                                 const std::string &rel, const struct stat &st) {
		                         expected += is_rebuilt_object_record(rel);
		                         return policy(rel, st);
	                         });
	progress.verbose("cache tree: " + std::to_string(cs.linked) + " files linked, " +
	                 std::to_string(cs.copied) + " copied, " + std::to_string(cs.skipped) +
	                 " build products left out (" + seconds_since(t_copy) + " s)");
	// Remove whatever else the user's build left (mrproper only unlinks), then put the
	// configuration back as a file of our own.
	auto clean = run_process({"make", "-C", t, "-s", "mrproper"}, {}, &log);
	if (clean.status != 0)
		throw Error("'make mrproper' failed in the cache tree " + t +
		            " (log: " + log.path() + ")");
	progress.verbose("make mrproper in the cache tree: " + seconds_text(clean.seconds) + " s");
	{
		struct stat st;
		if (stat((tree.src + "/.config").c_str(), &st) != 0)
			throw_errno("stat .config");
		copy_file_preserving(tree.src + "/.config", t + "/.config", st);
	}
	struct timespec start;
	clock_gettime(CLOCK_REALTIME, &start);
	std::vector<std::string> cmd = original_build_command(t, jobs, tree.config_text);
	progress.note("original build (once per tree): " + join_command(cmd));
	BuildProgress bp("kp-build: original build", expected, isatty(STDERR_FILENO) == 1,
	                 [](const std::string &text) { std::fputs(text.c_str(), stderr); });
	auto r = run_process(cmd, {}, &log, [&bp](std::string_view out) { bp.feed(out); });
	std::string summary = bp.finish(r.seconds);
	std::fprintf(stderr, "%s\n", summary.c_str());
	log.write("-- " + summary + "\n");
	if (compiler_seconds)
		*compiler_seconds += r.seconds;
	if (r.status != 0)
		throw Error("original build failed in the cache tree (full output in " +
		            log.path() + "):\n" + tail_lines(r.output, 25));
	verify_shared_untouched(t, start);
	std::ofstream out(dir_ + "/complete", std::ios::trunc);
	out << key_.text;
	if (!out)
		throw Error("cannot write " + dir_ + "/complete");
}

} // namespace kp::build
