#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "kit/kit.h"
#include "patch_apply.h"
#include "patch_parse.h"
#include "tree_copy.h"

using namespace kp::kit;

namespace {
const char *kOriginal = "line 1\nline 2\nline 3\nline 4\nline 5\n";
const char *kGoodPatch =
        "--- a/dir/f.c\n+++ b/dir/f.c\n@@ -2,3 +2,3 @@\n line 2\n-line 3\n+line three\n line 4\n";
const char *kBadPatch =
        "--- a/dir/f.c\n+++ b/dir/f.c\n@@ -1,3 +1,3 @@\n line 1\n-line 2\n+line two\n line 3\n"
        "@@ -2,3 +2,3 @@\n line 2\n-no such line\n+x\n line 4\n";
} // namespace

TEST(PatchApply, PatchesAHardLinkedCopyWithoutWritingTheOriginal)
{
	TempDir t;
	write_file(t / "orig/dir/f.c", kOriginal);
	struct stat before;
	ASSERT_EQ(stat((t / "orig/dir/f.c").c_str(), &before), 0);
	struct timespec future {};
	future.tv_sec = before.st_mtim.tv_sec + 3600;
	kp::build::copy_tree(t / "orig", t / "copy", kp::build::built_tree_policy(future));
	struct stat linked;
	ASSERT_EQ(stat((t / "copy/dir/f.c").c_str(), &linked), 0);
	ASSERT_EQ(linked.st_ino, before.st_ino) << "the copy should start as a hard link";

	write_file(t / "fix.diff", kGoodPatch);
	auto info = kp::build::parse_patch_file(t / "fix.diff");
	kp::build::apply_patch(info, t / "copy", nullptr);

	EXPECT_EQ(read_file(t / "copy/dir/f.c"), "line 1\nline 2\nline three\nline 4\nline 5\n");
	EXPECT_EQ(read_file(t / "orig/dir/f.c"), kOriginal);
	struct stat after, patched;
	ASSERT_EQ(stat((t / "orig/dir/f.c").c_str(), &after), 0);
	ASSERT_EQ(stat((t / "copy/dir/f.c").c_str(), &patched), 0);
	EXPECT_EQ(after.st_ino, before.st_ino);
	EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	EXPECT_EQ(after.st_nlink, 1u);
	EXPECT_NE(patched.st_ino, before.st_ino);
}

TEST(PatchApply, FailingHunkIsNamedAndNothingChanges)
{
	TempDir t;
	write_file(t / "tree/dir/f.c", kOriginal);
	write_file(t / "bad.diff", kBadPatch);
	auto info = kp::build::parse_patch_file(t / "bad.diff");
	try {
		kp::build::apply_patch(info, t / "tree", nullptr);
		FAIL() << "the patch applied";
	} catch (const kp::build::Error &e) {
		std::string msg = e.what();
		EXPECT_EQ(e.kind(), kp::ErrorKind::failed);
		EXPECT_NE(msg.find("does not apply"), std::string::npos) << msg;
		EXPECT_NE(msg.find("dir/f.c: hunk #2 (@@ -2,3 +2,3 @@) FAILED"), std::string::npos)
		        << msg;
		EXPECT_EQ(msg.find("hunk #1"), std::string::npos) << msg;
	}
	// The dry run refused before anything was written: hunk #1 is not half-applied.
	EXPECT_EQ(read_file(t / "tree/dir/f.c"), kOriginal);
}
