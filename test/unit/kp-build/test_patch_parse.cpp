#include <gtest/gtest.h>

#include "error.h"
#include "patch_parse.h"

using kp::build::parse_patch;

TEST(PatchParse, GitStyleDiffListsEveryFileAndHunk)
{
	const std::string text =
	        "From: someone\nSubject: fix\n---\n"
	        "diff --git a/fs/proc/cmdline.c b/fs/proc/cmdline.c\n"
	        "index 1..2 100644\n"
	        "--- a/fs/proc/cmdline.c\n"
	        "+++ b/fs/proc/cmdline.c\n"
	        "@@ -7,6 +7,7 @@ static int cmdline_proc_show(struct seq_file *m, void *v)\n"
	        " {\n+\tx();\n }\n"
	        "@@ -20,3 +21,3 @@\n-a\n+b\n"
	        "--- a/include/linux/foo.h\t2026-01-01 00:00:00\n"
	        "+++ b/include/linux/foo.h\t2026-01-01 00:00:01\n"
	        "@@ -1 +1 @@\n-x\n+y\n";
	auto p = parse_patch(text, "fix.diff");
	EXPECT_EQ(p.strip, 1);
	ASSERT_EQ(p.files.size(), 2u);
	EXPECT_EQ(p.files[0].path, "fs/proc/cmdline.c");
	ASSERT_EQ(p.files[0].hunks.size(), 2u);
	EXPECT_EQ(p.files[0].hunks[1], "@@ -20,3 +21,3 @@");
	EXPECT_EQ(p.files[1].path, "include/linux/foo.h"); // timestamp after the tab dropped
	EXPECT_FALSE(p.files[1].created);
}

TEST(PatchParse, NewAndDeletedFiles)
{
	const std::string text = "--- /dev/null\n+++ b/kernel/new.c\n@@ -0,0 +1 @@\n+int x;\n"
	                         "--- a/kernel/old.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-int y;\n";
	auto p = parse_patch(text, "x.patch");
	ASSERT_EQ(p.files.size(), 2u);
	EXPECT_TRUE(p.files[0].created);
	EXPECT_EQ(p.files[0].path, "kernel/new.c");
	EXPECT_TRUE(p.files[1].deleted);
	EXPECT_EQ(p.files[1].path, "kernel/old.c");
}

TEST(PatchParse, PlainNamesUseStripZero)
{
	auto p = parse_patch("--- Makefile\n+++ Makefile\n@@ -1 +1 @@\n-a\n+b\n", "p0.diff");
	EXPECT_EQ(p.strip, 0);
	ASSERT_EQ(p.files.size(), 1u);
	EXPECT_EQ(p.files[0].path, "Makefile");
}

TEST(PatchParse, RefusesTextWithoutFileHeaders)
{
	try {
		parse_patch("just some text\n+not a diff\n", "notes.txt");
		FAIL() << "no error";
	} catch (const kp::build::Error &e) {
		EXPECT_NE(std::string(e.what()).find("notes.txt"), std::string::npos);
		EXPECT_EQ(e.kind(), kp::ErrorKind::failed);
	}
}

TEST(PatchParse, RefusesPathsLeavingTheTree)
{
	EXPECT_THROW(parse_patch("--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n",
	                         "evil"),
	             kp::build::Error);
}

TEST(PatchParse, RenamesAreUnsupported)
{
	try {
		parse_patch("diff --git a/x.c b/y.c\nsimilarity index 90%\nrename from x.c\nrename "
		            "to y.c\n"
		            "--- a/x.c\n+++ b/y.c\n@@ -1 +1 @@\n-a\n+b\n",
		            "r.diff");
		FAIL() << "no error";
	} catch (const kp::build::Error &e) {
		EXPECT_EQ(e.kind(), kp::ErrorKind::unsupported);
	}
}

TEST(PatchParse, AssemblyFilesAreRecognised)
{
	auto p = parse_patch("--- a/arch/x86/lib/memcpy_64.S\n+++ b/arch/x86/lib/memcpy_64.S\n@@ "
	                     "-1 +1 @@\n-a\n+b\n",
	                     "asm.diff");
	ASSERT_EQ(p.files.size(), 1u);
	EXPECT_TRUE(kp::build::is_assembly_file(p.files[0].path));
	EXPECT_FALSE(kp::build::is_assembly_file("fs/proc/cmdline.c"));
	EXPECT_FALSE(kp::build::is_assembly_file("include/linux/S"));
}
