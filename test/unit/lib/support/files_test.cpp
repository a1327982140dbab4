// lib/support/files.h: reads, tree removal that never follows a link, locks, temporary
// directories and the module-name rule.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/files.h"

namespace fs = std::filesystem;
using namespace kp::support;

namespace {

std::string scratch()
{
	auto dir = make_temp_dir(fs::temp_directory_path().string() + "/kp-files-test", "t-");
	EXPECT_TRUE(dir.has_value());
	return dir ? *dir : std::string();
}

} // namespace

TEST(SupportFiles, ReadTextFileAndItsError)
{
	std::string dir = scratch();
	std::ofstream(dir + "/a") << "one\ntwo\n";
	auto text = read_text_file(dir + "/a");
	ASSERT_TRUE(text.has_value());
	EXPECT_EQ(*text, "one\ntwo\n");
	auto missing = read_text_file(dir + "/none");
	ASSERT_FALSE(missing.has_value());
	EXPECT_EQ(missing.error().kind(), kp::ErrorKind::io);
	EXPECT_NE(missing.error().message().find(dir + "/none"), std::string::npos);
	ASSERT_TRUE(remove_tree(dir).has_value());
}

TEST(SupportFiles, RemoveTreeRemovesLinksNotWhatTheyPointTo)
{
	std::string dir = scratch(), keep = scratch();
	std::ofstream(keep + "/kept") << "x";
	fs::create_directories(dir + "/a/b");
	std::ofstream(dir + "/a/b/f") << "y";
	fs::create_directory_symlink(keep, dir + "/a/link");
	ASSERT_TRUE(remove_tree(dir).has_value());
	EXPECT_FALSE(fs::exists(dir));
	EXPECT_TRUE(fs::exists(keep + "/kept")) << "remove_tree followed a symlink";
	EXPECT_TRUE(remove_tree(dir).has_value()) << "a missing path is not an error";
	ASSERT_TRUE(remove_tree(keep).has_value());
}

TEST(SupportFiles, ListDirectory)
{
	std::string dir = scratch();
	std::ofstream(dir + "/x");
	fs::create_directory(dir + "/y");
	auto names = list_directory(dir);
	ASSERT_TRUE(names.has_value());
	std::sort(names->begin(), names->end());
	EXPECT_EQ(*names, (std::vector<std::string>{"x", "y"}));
	EXPECT_FALSE(list_directory(dir + "/none").has_value());
	auto none = list_directory(dir + "/none", true);
	ASSERT_TRUE(none.has_value());
	EXPECT_TRUE(none->empty());
	ASSERT_TRUE(remove_tree(dir).has_value());
}

TEST(SupportFiles, ALockIsExclusiveUntilItsOwnerGoes)
{
	std::string dir = scratch();
	{
		auto held = FileLock::acquire(dir + "/lock");
		ASSERT_TRUE(held.has_value());
		kp::support::Fd other(open((dir + "/lock").c_str(), O_RDWR | O_CLOEXEC));
		ASSERT_TRUE(other.valid());
		auto busy = lock_fd(other.get(), LockMode::exclusive_try, dir + "/lock");
		ASSERT_TRUE(busy.has_value());
		EXPECT_FALSE(*busy) << "a second exclusive lock was granted";
	}
	kp::support::Fd again(open((dir + "/lock").c_str(), O_RDWR | O_CLOEXEC));
	auto free = lock_fd(again.get(), LockMode::exclusive_try, dir + "/lock");
	ASSERT_TRUE(free.has_value());
	EXPECT_TRUE(*free) << "the lock outlived its FileLock";
	ASSERT_TRUE(remove_tree(dir).has_value());
}

TEST(SupportFiles, TempDirsAreNewAndPrefixed)
{
	std::string parent = scratch();
	auto a = make_temp_dir(parent + "/deeper", "kp-fix-");
	auto b = make_temp_dir(parent + "/deeper", "kp-fix-");
	ASSERT_TRUE(a.has_value() && b.has_value());
	EXPECT_NE(*a, *b);
	EXPECT_TRUE(fs::is_directory(*a));
	EXPECT_EQ(fs::path(*a).filename().string().rfind("kp-fix-", 0), 0u);
	ASSERT_TRUE(remove_tree(parent).has_value());
}

TEST(SupportFiles, ModuleNames)
{
	EXPECT_EQ(normalize_module_name("kp-fix-2"), "kp_fix_2");
	EXPECT_EQ(module_name_of_file("fs/fuse/fuse.ko"), "fuse");
	EXPECT_EQ(module_name_of_file("samples/livepatch/livepatch-sample.ko"), "livepatch_sample");
	EXPECT_EQ(module_name_of_file("kernel/drivers/net/e1000e.ko.xz"), "e1000e");
}
