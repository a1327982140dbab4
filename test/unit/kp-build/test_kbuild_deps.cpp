#include <gtest/gtest.h>

#include <algorithm>

#include "kbuild_deps.h"
#include "kit/kit.h"
#include "support/files.h"

using namespace kp::kit;

namespace {
bool contains(const std::vector<std::string> &v, const std::string &s)
{
	return std::find(v.begin(), v.end(), s) != v.end();
}
} // namespace

TEST(KbuildDeps, ParsesSyntheticRecord)
{
	const std::string text = "cmd_kernel/x.o := gcc -c -o kernel/x.o kernel/x.c\n\n"
	                         "source_kernel/x.o := kernel/x.c\n\n"
	                         "deps_kernel/x.o := \\\n"
	                         "  include/linux/compiler-version.h \\\n"
	                         "    $(wildcard include/config/CC_VERSION_TEXT) \\\n"
	                         "  /usr/lib/gcc/x86_64-linux-gnu/12/include/stdarg.h \\\n"
	                         "  /src/tree/include/linux/abs.h \\\n"
	                         "  include/linux/x.h \\\n\n"
	                         "kernel/x.o: $(deps_kernel/x.o)\n\n$(deps_kernel/x.o):\n";
	auto d = kp::build::parse_cmd_text(text, "/src/tree");
	EXPECT_EQ(d.object, "kernel/x.o");
	EXPECT_EQ(d.source, "kernel/x.c");
	EXPECT_EQ(d.deps.size(), 4u);
	EXPECT_TRUE(contains(d.deps, "include/linux/compiler-version.h"));
	EXPECT_TRUE(contains(d.deps, "include/linux/abs.h"))
	        << "absolute path inside the tree made relative";
	EXPECT_TRUE(contains(d.deps, "/usr/lib/gcc/x86_64-linux-gnu/12/include/stdarg.h"));
	EXPECT_TRUE(contains(d.deps, "include/linux/x.h"));
	for (const auto &dep : d.deps)
		EXPECT_EQ(dep.find("wildcard"), std::string::npos) << dep;
}

TEST(KbuildDeps, RealRecordOfTheTestKernel)
{
	std::string tree = built_kernel_tree();
	if (tree.empty())
		GTEST_SKIP() << "test kernel not built (make kernel)";
	auto d = kp::build::parse_cmd_file(tree + "/fs/proc/.cmdline.o.cmd", tree);
	EXPECT_EQ(d.object, "fs/proc/cmdline.o");
	EXPECT_EQ(d.source, "fs/proc/cmdline.c");
	EXPECT_TRUE(contains(d.deps, "include/linux/seq_file.h"));
	EXPECT_TRUE(contains(d.deps, "include/linux/kconfig.h"));
	EXPECT_GT(d.deps.size(), 50u) << "every header the compile read is listed";
}

TEST(KbuildDeps, MembershipOfVmlinuxAndModules)
{
	std::string tree = built_kernel_tree();
	if (tree.empty())
		GTEST_SKIP() << "test kernel not built (make kernel)";
	auto m = kp::build::read_membership(tree, nullptr);
	EXPECT_TRUE(m.vmlinux.count("fs/proc/cmdline.o"));
	EXPECT_TRUE(m.vmlinux.count("kernel/fork.o"));
	EXPECT_FALSE(m.vmlinux.count("fs/fuse/inode.o"));
	ASSERT_TRUE(m.module_of.count("fs/fuse/inode.o"));
	EXPECT_EQ(m.module_of.at("fs/fuse/inode.o"), "fuse");
	EXPECT_EQ(m.module_ko.at("fuse"), "fs/fuse/fuse.ko");
	EXPECT_EQ(m.module_of.at("samples/livepatch/livepatch-sample.o"), "livepatch_sample");
}

TEST(KbuildDeps, AffectedObjectsOfASourceAndAHeader)
{
	std::string tree = built_kernel_tree();
	if (tree.empty())
		GTEST_SKIP() << "test kernel not built (make kernel)";
	auto m = kp::build::read_membership(tree, nullptr);
	auto a = kp::build::find_affected_objects(tree, {"fs/proc/cmdline.c"}, m);
	EXPECT_EQ(a.objects, std::vector<std::string>{"fs/proc/cmdline.o"});

	auto h = kp::build::find_affected_objects(tree, {"include/linux/seq_file.h"}, m);
	EXPECT_GT(h.objects.size(), 10u);
	EXPECT_TRUE(contains(h.objects, "fs/proc/cmdline.o"));
	EXPECT_TRUE(contains(h.objects, "fs/seq_file.o"));
	for (const auto &o : h.objects)
		EXPECT_TRUE(m.vmlinux.count(o) || m.module_of.count(o))
		        << o << " is neither in vmlinux nor a module";

	auto none = kp::build::find_affected_objects(tree, {"drivers/gpu/drm/drm_drv.c"}, m);
	EXPECT_TRUE(none.objects.empty()) << "a file this configuration does not build";
}

TEST(KbuildDeps, ModuleNames)
{
	EXPECT_EQ(kp::support::module_name_of_file("fs/fuse/fuse.ko"), "fuse");
	EXPECT_EQ(kp::support::module_name_of_file("samples/livepatch/livepatch-sample.ko"),
	          "livepatch_sample");
}

TEST(KbuildDeps, CachedIndexGivesTheSameAnswer)
{
	std::string tree = built_kernel_tree();
	if (tree.empty())
		GTEST_SKIP() << "test kernel not built (make kernel)";
	TempDir t;
	auto m = kp::build::read_membership(tree, nullptr);
	std::set<std::string> files = {"include/linux/seq_file.h", "fs/proc/version.c"};
	auto direct = kp::build::find_affected_objects(tree, files, m);
	auto first =
	        kp::build::find_affected_objects_cached(tree, files, m, t / "index"); // writes it
	auto second =
	        kp::build::find_affected_objects_cached(tree, files, m, t / "index"); // reads it
	EXPECT_EQ(first.objects, direct.objects);
	EXPECT_EQ(second.objects, direct.objects);
	EXPECT_EQ(second.by_file.at("fs/proc/version.c"),
	          std::vector<std::string>{"fs/proc/version.o"});
	EXPECT_NE(read_file(t / "index").find("fs/proc/version.c\tfs/proc/version.o\n"),
	          std::string::npos);
}

TEST(KbuildDeps, RelativeIncludesAreNormalised)
{
	auto d = kp::build::parse_cmd_text(
	        "source_lib/v.o := lib/v.c\n\ndeps_lib/v.o := \\\n  lib/../mm/internal.h \\\n"
	        "  ./include/linux/a.h \\\n\n");
	EXPECT_EQ(d.deps, (std::vector<std::string>{"mm/internal.h", "include/linux/a.h"}));
	std::string tree = built_kernel_tree();
	if (tree.empty())
		return;
	auto m = kp::build::read_membership(tree, nullptr);
	auto a = kp::build::find_affected_objects(tree, {"mm/internal.h"}, m);
	EXPECT_TRUE(contains(a.objects, "lib/vsprintf.o"))
	        << "lib/vsprintf.c includes ../mm/internal.h";
}
