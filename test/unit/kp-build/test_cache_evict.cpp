#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "cache.h"
#include "cache_evict.h"
#include "error.h"
#include "kit/kit.h"
#include "progress.h"

namespace fs = std::filesystem;
using kp::kit::TempDir;
using kp::kit::write_file;

namespace {

std::string identity_of(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st) != 0)
		return "missing";
	return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

void set_used(const std::string &lock, time_t when)
{
	struct timespec t[2] = {{when, 0}, {when, 0}};
	ASSERT_EQ(utimensat(AT_FDCWD, lock.c_str(), t, 0), 0) << lock;
}

time_t used(const std::string &lock)
{
	struct stat st;
	return stat(lock.c_str(), &st) == 0 ? st.st_mtim.tv_sec : 0;
}

// A cache entry as CacheEntry leaves it: lock, complete (key text), a tree.
void make_entry(const std::string &cache, const std::string &name, time_t used_at,
                const std::string &src, const std::string &identity, bool complete = true)
{
	std::string dir = cache + "/" + name;
	write_file(dir + "/tree/vmlinux.a", "!<thin>\n");
	write_file(dir + "/tree/fs/proc/cmdline.o", "obj");
	if (complete)
		write_file(dir + "/complete", "format=1\nsource=" + src + "\nsource_identity=" +
		                                      identity + "\nrelease=6.1\n");
	write_file(dir + "/lock", "");
	set_used(dir + "/lock", used_at);
}

bool removed(const kp::build::EvictionReport &r, const std::string &name)
{
	return std::any_of(r.removed.begin(), r.removed.end(),
	                   [&](const std::string &s) { return s.rfind(name + " ", 0) == 0; });
}

const char *const kA = "aaaaaaaaaaaaaaaa";
const char *const kB = "bbbbbbbbbbbbbbbb";
const char *const kC = "cccccccccccccccc";
const char *const kD = "dddddddddddddddd";

} // namespace

TEST(CacheEvict, KeepsTheMostRecentlyUsedTreesAndTheCurrentOne)
{
	TempDir d;
	std::string cache = d / "cache", src = d / "linux";
	fs::create_directories(src);
	std::string id = identity_of(src);
	make_entry(cache, kA, 1000, src, id);
	make_entry(cache, kB, 2000, src, id);
	make_entry(cache, kC, 500, src, id); // the caller's entry: kept however old
	make_entry(cache, kD, 4000, src, id);
	fs::create_directories(cache + "/work/x-123");
	fs::create_directories(cache + "/core-0123456789abcdef/kmod");
	auto r = kp::build::evict_cache_entries(cache, 2, kC);
	EXPECT_TRUE(fs::exists(cache + "/" + kC));
	EXPECT_TRUE(fs::exists(cache + "/" + kD)) << "most recently used";
	EXPECT_FALSE(fs::exists(cache + "/" + kA));
	EXPECT_FALSE(fs::exists(cache + "/" + kB));
	EXPECT_TRUE(removed(r, kA));
	EXPECT_TRUE(removed(r, kB));
	EXPECT_EQ(r.removed.size(), 2u);
	EXPECT_TRUE(r.busy.empty());
	// Other things in the cache directory are not tree entries; nothing is left behind.
	EXPECT_TRUE(fs::exists(cache + "/work/x-123"));
	EXPECT_TRUE(fs::exists(cache + "/core-0123456789abcdef/kmod"));
	for (const auto &e : fs::directory_iterator(cache))
		EXPECT_EQ(e.path().filename().string().rfind(".evicted", 0), std::string::npos)
		        << e.path();
}

TEST(CacheEvict, UnderTheLimitNothingValidIsRemoved)
{
	TempDir d;
	std::string cache = d / "cache", src = d / "linux";
	fs::create_directories(src);
	make_entry(cache, kA, 1000, src, identity_of(src));
	make_entry(cache, kB, 2000, src, identity_of(src));
	auto r = kp::build::evict_cache_entries(cache, 3, kB);
	EXPECT_TRUE(r.removed.empty());
	EXPECT_TRUE(fs::exists(cache + "/" + kA + "/tree/fs/proc/cmdline.o"));
}

TEST(CacheEvict, EntriesThatCanNeverBeUsedAgainGoFirst)
{
	TempDir d;
	std::string cache = d / "cache", src = d / "linux";
	fs::create_directories(src);
	make_entry(cache, kA, 1000, d / "gone", "1:2"); // source tree deleted
	make_entry(cache, kB, 2000, src, "1:1");        // source recreated at the same path
	make_entry(cache, kC, 3000, src, "", false);    // build never completed, nobody building
	make_entry(cache, kD, 100, src, identity_of(src));
	auto r = kp::build::evict_cache_entries(cache, 10, "");
	EXPECT_TRUE(removed(r, kA));
	EXPECT_TRUE(removed(r, kB));
	EXPECT_TRUE(removed(r, kC));
	EXPECT_FALSE(removed(r, kD)) << "valid and within the limit";
	EXPECT_TRUE(fs::exists(cache + "/" + kD));
	EXPECT_FALSE(fs::exists(cache + "/" + kA));
	for (const auto &s : r.removed)
		if (s.rfind(kA, 0) == 0) {
			EXPECT_NE(s.find("no longer exists"), std::string::npos) << s;
		}
}

TEST(CacheEvict, AnEntryInUseIsNeverRemoved)
{
	TempDir d;
	std::string cache = d / "cache", src = d / "linux";
	fs::create_directories(src);
	make_entry(cache, kA, 1000, src, identity_of(src));
	make_entry(cache, kB, 2000, src, identity_of(src), false); // being built
	make_entry(cache, kD, 4000, src, identity_of(src));
	int fa = open((cache + "/" + kA + "/lock").c_str(), O_RDWR);
	int fb = open((cache + "/" + kB + "/lock").c_str(), O_RDWR);
	ASSERT_GE(fa, 0);
	ASSERT_GE(fb, 0);
	ASSERT_EQ(flock(fa, LOCK_SH), 0); // another kp-build reading it
	ASSERT_EQ(flock(fb, LOCK_EX), 0); // another kp-build building it
	auto r = kp::build::evict_cache_entries(cache, 1, kD);
	close(fa);
	close(fb);
	EXPECT_TRUE(r.removed.empty());
	EXPECT_EQ(r.busy.size(), 2u);
	EXPECT_TRUE(fs::exists(cache + "/" + kA + "/complete"));
	EXPECT_TRUE(fs::exists(cache + "/" + kB + "/tree/vmlinux.a"));
	// Once released, the next run removes them.
	r = kp::build::evict_cache_entries(cache, 1, kD);
	EXPECT_EQ(r.removed.size(), 2u);
}

TEST(CacheEvict, ZeroMeansNoLimit)
{
	TempDir d;
	std::string cache = d / "cache";
	make_entry(cache, kA, 1000, d / "gone", "1:2");
	auto r = kp::build::evict_cache_entries(cache, 0, "");
	EXPECT_TRUE(r.removed.empty());
	EXPECT_TRUE(fs::exists(cache + "/" + kA));
}

TEST(CacheEvict, LimitFromTheEnvironment)
{
	unsetenv("KP_BUILD_CACHE_MAX");
	EXPECT_EQ(kp::build::cache_max_from_env(), kp::build::kDefaultCacheMax);
	setenv("KP_BUILD_CACHE_MAX", "5", 1);
	EXPECT_EQ(kp::build::cache_max_from_env(), 5u);
	setenv("KP_BUILD_CACHE_MAX", "five", 1);
	try {
		kp::build::cache_max_from_env();
		ADD_FAILURE() << "accepted";
	} catch (const kp::build::Error &e) {
		EXPECT_NE(std::string(e.what()).find("five"), std::string::npos) << e.what();
	}
	setenv("KP_BUILD_CACHE_MAX", "-1", 1);
	EXPECT_THROW(kp::build::cache_max_from_env(), kp::build::Error);
	unsetenv("KP_BUILD_CACHE_MAX");
}

TEST(CacheEvict, EveryCacheHitMarksTheEntryUsed)
{
	TempDir d;
	std::string cache = d / "cache";
	kp::build::KernelTree t;
	t.src = d.path();
	t.release = "6.1.0";
	t.build_id = "136bea46c9307f68bd761b4b221d726898c39827";
	t.host_compiler = "gcc (Debian 12.2.0-14+deb12u1) 12.2.0";
	t.config_text = "CONFIG_MODULES=y\n";
	auto key = kp::build::make_cache_key(t);
	kp::build::CacheEntry entry(cache, key);
	write_file(entry.dir() + "/complete", key.text);
	write_file(entry.tree() + "/vmlinux.a", "!<thin>\n");
	set_used(entry.dir() + "/lock", 1000);
	kp::build::Log log;
	kp::build::Progress progress(log, false);
	EXPECT_TRUE(entry.ensure_tree(t, progress));
	EXPECT_GT(used(entry.dir() + "/lock"), 1000) << "a hit must count as a use";
}

TEST(CacheEvict, AWaitingKpBuildStartsOverWhenItsEntryWasEvicted)
{
	TempDir d;
	std::string cache = d / "cache";
	std::string src = d / "src"; // no kernel tree: a build attempt fails early
	fs::create_directories(src);
	kp::build::KernelTree t;
	t.src = src;
	t.release = "6.1.0";
	t.build_id = "136bea46c9307f68bd761b4b221d726898c39827";
	t.config_text = "CONFIG_MODULES=y\n";
	auto key = kp::build::make_cache_key(t);
	kp::build::CacheEntry entry(cache, key); // holds the open lock file of the entry
	write_file(entry.dir() + "/complete", key.text);
	write_file(entry.tree() + "/vmlinux.a", "!<thin>\n");
	auto r = kp::build::evict_cache_entries(cache, 1,
	                                        ""); // no entry is current: limit 1 keeps it
	EXPECT_TRUE(r.removed.empty());
	// Evicted by a run that does not count it (another key is current and the limit is 1).
	make_entry(cache, kD, time(nullptr) + 100, src, identity_of(src));
	r = kp::build::evict_cache_entries(cache, 1, kD);
	ASSERT_TRUE(removed(r, key.hex));
	ASSERT_FALSE(fs::exists(entry.dir()));
	// The holder's next lock notices the move: a new, empty entry (a miss), not the old tree.
	kp::build::Log log;
	kp::build::Progress progress(log, false);
	try {
		entry.ensure_tree(t, progress);
		ADD_FAILURE() << "reported a hit for an evicted entry";
	} catch (const kp::build::Error &) {
		// It tried to copy t.src (no built kernel tree): the entry was seen as missing.
	}
	EXPECT_TRUE(fs::exists(entry.dir() + "/lock"))
	        << "the lock was reopened at the entry's path";
}

TEST(CacheEvict, OldCoreBuildsAndWorkDirectoriesGo)
{
	TempDir d;
	std::string cache = d / "cache";
	time_t now = time(nullptr);
	auto dir_at = [&](const std::string &rel, time_t when) {
		fs::create_directories(cache + "/" + rel);
		set_used(cache + "/" + rel, when);
	};
	// kp_core builds: limit 2 keeps the two newest; an older one used within the hour stays.
	dir_at("core-0000000000000001", now - 5 * 3600);
	dir_at("core-0000000000000002", now - 4 * 3600);
	dir_at("core-0000000000000003", now - 3 * 3600);
	dir_at("core-0000000000000004", now - 2 * 3600);
	dir_at("core-0000000000000005", now - 60); // newest
	dir_at("core-0000000000000009.tmp.123", now - 2 * 3600);
	dir_at("core-0000000000000008.tmp.456", now - 60); // being built
	write_file(cache + "/work/failed-old/kp-build.log", "old");
	set_used(cache + "/work/failed-old/kp-build.log", now - 3 * 86400);
	set_used(cache + "/work/failed-old", now - 3 * 86400);
	write_file(cache + "/work/running/kp-build.log", "still writing"); // dir old, log fresh
	set_used(cache + "/work/running", now - 3 * 86400);
	dir_at("work/recent", now - 3600);
	auto r = kp::build::evict_cache_entries(cache, 2, "");
	EXPECT_TRUE(fs::exists(cache + "/core-0000000000000005"));
	EXPECT_TRUE(fs::exists(cache + "/core-0000000000000004"));
	EXPECT_FALSE(fs::exists(cache + "/core-0000000000000003"));
	EXPECT_FALSE(fs::exists(cache + "/core-0000000000000002"));
	EXPECT_FALSE(fs::exists(cache + "/core-0000000000000001"));
	EXPECT_FALSE(fs::exists(cache + "/core-0000000000000009.tmp.123"));
	EXPECT_TRUE(fs::exists(cache + "/core-0000000000000008.tmp.456"));
	EXPECT_FALSE(fs::exists(cache + "/work/failed-old"));
	EXPECT_TRUE(fs::exists(cache + "/work/running/kp-build.log"));
	EXPECT_TRUE(fs::exists(cache + "/work/recent"));
	EXPECT_EQ(r.removed.size(), 5u);
	// A core used just now is kept even beyond the limit.
	dir_at("core-0000000000000006", now - 30);
	dir_at("core-0000000000000007", now - 20);
	kp::build::evict_cache_entries(cache, 2, "");
	EXPECT_TRUE(fs::exists(cache + "/core-0000000000000005"))
	        << "third newest, but used a minute ago";
	EXPECT_FALSE(fs::exists(cache + "/core-0000000000000004"))
	        << "beyond the limit, unused for 2 h";
}

TEST(CacheEvict, WorkDirectoriesBeyondTheBoundGoUnlessTheirKpBuildRuns)
{
	TempDir d;
	std::string cache = d / "cache";
	time_t now = time(nullptr);
	size_t n = kp::build::kWorkDirsKept + 3;
	// The oldest is still held by its kp-build (a run that takes long): never removed.
	write_file(cache + "/work/failed-0/kp-build.log", "running");
	kp::build::WorkDirLock running(cache + "/work/failed-0");
	for (size_t i = 0; i < n; ++i) {
		std::string dir = cache + "/work/failed-" + std::to_string(i);
		write_file(dir + "/kp-build.log", "refused");
		set_used(dir + "/kp-build.log", now - 3600 + static_cast<time_t>(i) * 60);
		set_used(dir, now - 3600 + static_cast<time_t>(i) * 60);
	}
	auto r = kp::build::evict_cache_entries(cache, 3, "");
	EXPECT_TRUE(fs::exists(cache + "/work/failed-0"));
	EXPECT_FALSE(fs::exists(cache + "/work/failed-1"));
	EXPECT_FALSE(fs::exists(cache + "/work/failed-2"));
	for (size_t i = 3; i < n; ++i)
		EXPECT_TRUE(fs::exists(cache + "/work/failed-" + std::to_string(i))) << i;
	EXPECT_EQ(r.removed.size(), 2u);
}

TEST(CacheEvict, PreparedTreesAndSourcesAreKeptUpToTheLimitNeverWhileUsed)
{
	TempDir d;
	std::string cache = d / "cache";
	std::string trees = cache + "/debian/trees", sources = cache + "/debian/sources";
	time_t now = time(nullptr);
	auto tree = [&](const std::string &name, time_t when) {
		write_file(trees + "/" + name + "/.kp-prepared", "release=x\n");
		write_file(trees + "/" + name + ".lock", "");
		write_file(trees + "/" + name + ".deps/index", "x");
		write_file(trees + "/" + name + ".use", "");
		set_used(trees + "/" + name + ".use", when);
	};
	auto source = [&](const std::string &name, time_t when) {
		write_file(sources + "/" + name + "/linux-source-6.1/Makefile", "VERSION = 6\n");
		write_file(sources + "/" + name + ".use", "");
		set_used(sources + "/" + name + ".use", when);
	};
	tree("6.1.0-56-cloud-amd64-00000000000000aa", now - 4000);
	tree("6.1.0-57-cloud-amd64-00000000000000bb", now - 3000);
	tree("6.1.0-57-amd64-00000000000000cc", now - 2000);
	tree("6.1.0-58-cloud-amd64-00000000000000dd", now - 1000);
	fs::create_directories(trees + "/6.1.0-59-cloud-amd64-00000000000000ee.tmp");
	source("linux-source-6.1_6.1.190-1", now - 3000);
	source("linux-source-6.1_6.1.192-3", now - 1000);
	{
		// The oldest tree is in use by another kp-build.
		kp::build::InUse held(trees + "/6.1.0-56-cloud-amd64-00000000000000aa");
		set_used(trees + "/6.1.0-56-cloud-amd64-00000000000000aa.use", now - 4000);
		auto r = kp::build::evict_release_cache(cache, 2, {});
		EXPECT_TRUE(fs::exists(trees + "/6.1.0-56-cloud-amd64-00000000000000aa"));
		EXPECT_EQ(r.busy.size(), 1u);
	}
	EXPECT_FALSE(fs::exists(trees + "/6.1.0-57-cloud-amd64-00000000000000bb"));
	EXPECT_FALSE(fs::exists(trees + "/6.1.0-57-cloud-amd64-00000000000000bb.deps"));
	EXPECT_FALSE(fs::exists(trees + "/6.1.0-57-cloud-amd64-00000000000000bb.lock"));
	EXPECT_TRUE(fs::exists(trees + "/6.1.0-57-amd64-00000000000000cc/.kp-prepared"));
	EXPECT_TRUE(fs::exists(trees + "/6.1.0-58-cloud-amd64-00000000000000dd/.kp-prepared"));
	EXPECT_TRUE(fs::exists(sources + "/linux-source-6.1_6.1.190-1"));
	EXPECT_TRUE(fs::exists(sources + "/linux-source-6.1_6.1.192-3"));
	// Free now, and over the limit of 1: only the most recently used of each kind stays.
	auto r = kp::build::evict_release_cache(cache, 1, {});
	EXPECT_FALSE(fs::exists(trees + "/6.1.0-56-cloud-amd64-00000000000000aa"));
	EXPECT_FALSE(fs::exists(trees + "/6.1.0-57-amd64-00000000000000cc"));
	EXPECT_TRUE(fs::exists(trees + "/6.1.0-58-cloud-amd64-00000000000000dd/.kp-prepared"));
	EXPECT_FALSE(fs::exists(sources + "/linux-source-6.1_6.1.190-1"));
	EXPECT_TRUE(fs::exists(sources + "/linux-source-6.1_6.1.192-3/linux-source-6.1/Makefile"));
	EXPECT_EQ(r.removed.size(), 3u);
	// 0: no limit.
	EXPECT_TRUE(kp::build::evict_release_cache(cache, 0, {}).removed.empty());
}
