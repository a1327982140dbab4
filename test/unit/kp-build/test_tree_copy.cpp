#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "build.h"
#include "kit/kit.h"
#include "support/files.h"
#include "tree_copy.h"

using namespace kp::kit;

namespace {
struct stat stat_of(const std::string &p)
{
	struct stat st {};
	EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
	return st;
}
} // namespace

TEST(TreeCopy, BreakingALinkLeavesTheOriginalUntouched)
{
	TempDir t;
	write_file(t / "a/src.c", "int original;\n");
	ASSERT_EQ(link((t / "a/src.c").c_str(), (t / "b.c").c_str()), 0);
	auto before = stat_of(t / "a/src.c");
	EXPECT_TRUE(kp::build::break_hard_link(t / "b.c"));
	EXPECT_FALSE(kp::build::break_hard_link(t / "b.c")) << "second call: nothing left to break";
	// Write through the copy the way a compiler does (O_TRUNC).
	{
		std::ofstream out(t / "b.c", std::ios::trunc);
		out << "int patched;\n";
	}
	auto after = stat_of(t / "a/src.c");
	EXPECT_EQ(read_file(t / "a/src.c"), "int original;\n");
	EXPECT_EQ(after.st_ino, before.st_ino);
	EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	EXPECT_EQ(after.st_nlink, 1u);
	EXPECT_NE(stat_of(t / "b.c").st_ino, before.st_ino);
}

// The cache's copy of a built tree: sources linked, products copied, the kernel's objects
// left out but their Kbuild records kept; host programs keep their objects; objtool's
// records (absolute O= paths) name the copy.
TEST(TreeCopy, BuiltTreePolicyKeepsRecordsAndHostObjectsButNotKernelObjects)
{
	TempDir t;
	write_file(t / "u/kernel/fork.c", "old\n");
	write_file(t / "u/kernel/fork.o", "obj\n");
	write_file(t / "u/kernel/.fork.o.cmd", "cmd\n");
	write_file(t / "u/kernel/built-in.a", "!<thin>\n");
	write_file(t / "u/fs/fuse/fuse.ko", "ko\n");
	write_file(t / "u/fs/fuse/.fuse.mod.o.cmd", "final link\n");
	write_file(t / "u/vmlinux", "elf\n");
	write_file(t / "u/include/generated/autoconf.h", "gen\n");
	write_file(t / "u/scripts/mod/modpost.o", "host obj\n");
	write_file(t / "u/tools/objtool/.check.o.cmd", "cmd_" + std::string(t / "u") + "/x\n");
	ASSERT_EQ(symlink("fork.c", (t / "u/kernel/link.c").c_str()), 0);
	// fork.c predates the cutoff, the products do not.
	struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
	ASSERT_EQ(utimensat(AT_FDCWD, (t / "u/kernel/fork.c").c_str(), old_times, 0), 0);
	struct timespec cutoff {
		2000, 0
	};
	auto stats = kp::build::copy_tree(t / "u", t / "c", kp::build::built_tree_policy(cutoff));
	EXPECT_EQ(stats.linked, 1u);
	EXPECT_EQ(stats.copied, 4u);
	EXPECT_EQ(stats.skipped, 5u);
	EXPECT_EQ(stat_of(t / "c/kernel/fork.c").st_ino, stat_of(t / "u/kernel/fork.c").st_ino);
	EXPECT_NE(stat_of(t / "c/include/generated/autoconf.h").st_ino,
	          stat_of(t / "u/include/generated/autoconf.h").st_ino);
	EXPECT_EQ(read_file(t / "c/include/generated/autoconf.h"), "gen\n");
	EXPECT_EQ(read_file(t / "c/kernel/.fork.o.cmd"), "cmd\n");
	EXPECT_EQ(read_file(t / "c/scripts/mod/modpost.o"), "host obj\n");
	EXPECT_EQ(read_file(t / "c/tools/objtool/.check.o.cmd"),
	          "cmd_" + std::string(t / "c") + "/x\n");
	for (const char *gone : {"kernel/fork.o", "kernel/built-in.a", "fs/fuse/fuse.ko",
	                         "fs/fuse/.fuse.mod.o.cmd", "vmlinux"})
		EXPECT_NE(access((t / "c/" + std::string(gone)).c_str(), F_OK), 0) << gone;
	EXPECT_TRUE(S_ISLNK(stat_of(t / "c/kernel/link.c").st_mode));
}

TEST(TreeCopy, WorkPolicyLinksOnlySharedFiles)
{
	TempDir t;
	write_file(t / "user/a.c", "source\n");
	write_file(t / "cache/a.o", "object\n");
	write_file(t / "cache/scripts/fixdep", "tool\n");
	write_file(t / "cache/scripts/mod/modpost.o", "host object\n");
	ASSERT_EQ(link((t / "user/a.c").c_str(), (t / "cache/a.c").c_str()), 0);
	kp::build::copy_tree(t / "cache", t / "work", kp::build::work_tree_policy());
	EXPECT_EQ(stat_of(t / "work/a.c").st_ino, stat_of(t / "user/a.c").st_ino);
	EXPECT_NE(stat_of(t / "work/scripts/fixdep").st_ino,
	          stat_of(t / "cache/scripts/fixdep").st_ino);
	EXPECT_EQ(stat_of(t / "cache/scripts/fixdep").st_nlink, 1u);
	EXPECT_NE(access((t / "work/a.o").c_str(), F_OK), 0);
	EXPECT_EQ(read_file(t / "work/scripts/mod/modpost.o"), "host object\n")
	        << "host objects are kept";
}

TEST(TreeCopy, WorkPolicyLeavesOutKconfigSymbolStamps)
{
	TempDir t;
	write_file(t / "cache/include/config/X86_64", "");
	write_file(t / "cache/include/config/auto.conf", "CONFIG_X86_64=y\n");
	write_file(t / "cache/include/config/kernel.release", "6.1.0\n");
	write_file(t / "cache/include/generated/autoconf.h", "#define CONFIG_X86_64 1\n");
	kp::build::copy_tree(t / "cache", t / "work", kp::build::work_tree_policy());
	EXPECT_NE(access((t / "work/include/config/X86_64").c_str(), F_OK), 0);
	EXPECT_EQ(read_file(t / "work/include/config/auto.conf"), "CONFIG_X86_64=y\n");
	EXPECT_EQ(read_file(t / "work/include/config/kernel.release"), "6.1.0\n");
	EXPECT_EQ(read_file(t / "work/include/generated/autoconf.h"), "#define CONFIG_X86_64 1\n");
	EXPECT_TRUE(kp::build::is_kconfig_symbol_stamp("include/config/CC_VERSION_TEXT"));
	EXPECT_FALSE(kp::build::is_kconfig_symbol_stamp("include/config/auto.conf.cmd"));
	EXPECT_FALSE(kp::build::is_kconfig_symbol_stamp("include/config/"));
	EXPECT_FALSE(kp::build::is_kconfig_symbol_stamp("arch/x86/include/config/FOO"));
}

TEST(TreeCopy, ObjectProducts)
{
	EXPECT_TRUE(kp::build::is_object_product("fs/proc/cmdline.o"));
	EXPECT_TRUE(kp::build::is_object_product("fs/proc/.cmdline.o.cmd"));
	EXPECT_TRUE(kp::build::is_object_product("vmlinux"));
	EXPECT_TRUE(kp::build::is_object_product("fs/fuse/fuse.ko"));
	EXPECT_FALSE(kp::build::is_object_product("fs/proc/cmdline.c"));
	EXPECT_FALSE(kp::build::is_object_product("include/generated/autoconf.h"));
	EXPECT_FALSE(kp::build::is_object_product("scripts/basic/fixdep"));
}

TEST(TreeCopy, SparseFilterKeepsWhatASingleObjectBuildReads)
{
	auto wanted = kp::build::sparse_work_tree_filter({"fs/proc"}, {"fs/internal.h"});
	EXPECT_TRUE(wanted("Makefile"));
	EXPECT_TRUE(wanted("include/linux/fs.h"));
	EXPECT_TRUE(wanted("arch/x86/include/asm/page.h"));
	EXPECT_FALSE(wanted("drivers/net/Kconfig")) << "the copy never reruns Kconfig";
	EXPECT_FALSE(wanted("drivers/")) << "a directory nothing is needed from is not walked";
	EXPECT_TRUE(wanted("fs/"));
	EXPECT_TRUE(wanted("fs/proc/"));
	EXPECT_TRUE(wanted("fs/proc/cmdline.c"));
	EXPECT_TRUE(wanted("fs/internal.h"));
	EXPECT_TRUE(wanted("kernel/time/timeconst.bc"));
	EXPECT_FALSE(wanted("fs/proc/sub/x.c")) << "only the object's own directory";
	EXPECT_FALSE(wanted("drivers/net/loopback.c"));
	EXPECT_FALSE(wanted("tools/perf/builtin-record.c"));

	TempDir t;
	write_file(t / "cache/fs/proc/cmdline.c", "a\n");
	write_file(t / "cache/drivers/x.c", "b\n");
	write_file(t / "cache/fs/Makefile", "c\n");
	write_file(t / "cache/fs/other.c", "d\n");
	write_file(t / "cache/include/config/auto.conf.cmd",
	           "deps_config := \\\n\tdrivers/Kconfig \\\n\tfs/Kconfig\n\n"
	           "include/config/auto.conf: $(deps_config)\n\nifneq \"$(CC)\" \"gcc\"\n"
	           "include/config/auto.conf: FORCE\nendif\n");
	struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
	ASSERT_EQ(utimensat(AT_FDCWD, (t / "cache/include/config/auto.conf.cmd").c_str(), old_times,
	                    0),
	          0);
	auto stats = kp::build::copy_tree(t / "cache", t / "work", kp::build::work_tree_policy(),
	                                  kp::build::sparse_work_tree_filter({"fs/proc"}, {}));
	EXPECT_EQ(read_file(t / "work/fs/proc/cmdline.c"), "a\n");
	EXPECT_EQ(read_file(t / "work/fs/Makefile"), "c\n");
	EXPECT_NE(access((t / "work/fs/other.c").c_str(), F_OK), 0);
	EXPECT_NE(access((t / "work/drivers").c_str(), F_OK), 0);
	EXPECT_EQ(stats.skipped, 1u);
	// Kconfig's file list is emptied in the copy (the rest of the record stays, mtime too).
	EXPECT_EQ(read_file(t / "work/include/config/auto.conf.cmd"),
	          "deps_config :=\n\ninclude/config/auto.conf: $(deps_config)\n\nifneq \"$(CC)\" "
	          "\"gcc\"\n"
	          "include/config/auto.conf: FORCE\nendif\n");
	EXPECT_EQ(stat_of(t / "work/include/config/auto.conf.cmd").st_mtim.tv_sec, 1000);
}

TEST(TreeCopy, SparseCopyLinksSourceOnlyDirectoriesExceptWhereThePatchWrites)
{
	TempDir t;
	// A "user tree" whose sources the cache shares by hard links (what work_tree_policy links).
	for (const char *f : {"include/linux/a.h", "include/linux/b.h", "include/uapi/c.h",
	                      "include/net/d.h", "fs/proc/cmdline.c"}) {
		std::string user = t / "user", cache = t / "cache";
		write_file(user + "/" + f, std::string(f) + "\n");
		std::filesystem::create_directories(
		        std::filesystem::path(cache + "/" + f).parent_path());
		ASSERT_EQ(link((user + "/" + f).c_str(), (cache + "/" + f).c_str()), 0) << f;
	}
	write_file(t / "cache/include/generated/autoconf.h",
	           "#define X 1\n"); // a build file: copied
	write_file(
	        t / "cache/fs/proc/.cmdline.o.cmd",
	        "cmd_fs/proc/cmdline.o := gcc\n\n"
	        "source_fs/proc/cmdline.o := fs/proc/cmdline.c\n\ndeps_fs/proc/cmdline.o := \\\n\n"
	        "fs/proc/cmdline.o: $(deps_fs/proc/cmdline.o)\n\n$(deps_fs/proc/cmdline.o):\n");
	auto stats = kp::build::make_sparse_work_tree(t / "cache", t / "work",
	                                              {"fs/proc/cmdline.o"}, {"include/net/d.h"});
	auto is_link = [&](const char *p) {
		return S_ISLNK(stat_of(t / "work" + "/" + p).st_mode);
	};
	EXPECT_TRUE(is_link("include/linux")) << "sources only: one symlink";
	EXPECT_TRUE(is_link("include/uapi"));
	EXPECT_FALSE(is_link("include")) << "holds a build file and a touched path";
	EXPECT_FALSE(is_link("include/generated")) << "build files are copies, never shared";
	EXPECT_FALSE(is_link("include/net")) << "the patch writes include/net/d.h";
	EXPECT_FALSE(is_link("fs/proc")) << "the object's directory: Kbuild writes there";
	EXPECT_EQ(stats.linked_dirs, 2u);
	EXPECT_EQ(read_file(t / "work/include/linux/a.h"), "include/linux/a.h\n");
	EXPECT_EQ(stat_of(t / "work/include/net/d.h").st_ino,
	          stat_of(t / "cache/include/net/d.h").st_ino)
	        << "a touched file is a hard link its patch breaks first";
	// Removing the copy removes the links, never what they point to.
	ASSERT_TRUE(kp::support::remove_tree(t / "work").has_value());
	EXPECT_EQ(read_file(t / "cache/include/linux/b.h"), "include/linux/b.h\n");
}
