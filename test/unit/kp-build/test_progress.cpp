// The progress of kp-build's original build: which make lines count, the line's text, and
// when a line is printed on a terminal and in a log.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "progress.h"

namespace {

using kp::build::BuildProgress;

std::string objects(size_t from, size_t n)
{
	std::string out;
	for (size_t i = from; i < from + n; ++i)
		out += "  CC      kernel/f" + std::to_string(i) + ".o\n";
	return out;
}

} // namespace

TEST(BuildProgress, Durations)
{
	EXPECT_EQ(kp::build::format_duration(0), "0s");
	EXPECT_EQ(kp::build::format_duration(59.4), "59s");
	EXPECT_EQ(kp::build::format_duration(62), "1m02s");
	EXPECT_EQ(kp::build::format_duration(3725), "1h02m");
	EXPECT_EQ(kp::build::format_duration(-3), "0s");
}

TEST(BuildProgress, LineText)
{
	EXPECT_EQ(kp::build::format_build_progress("original build", 1234, 5678, 62),
	          "original build: 1234 of ~5678 objects (21%), 1m02s, about 3m43s left");
	// Too early to estimate: under 2% or 10 s.
	EXPECT_EQ(kp::build::format_build_progress("b", 100, 5678, 62),
	          "b: 100 of ~5678 objects (1%), 1m02s, estimating time left");
	EXPECT_EQ(kp::build::format_build_progress("b", 1000, 5678, 5),
	          "b: 1000 of ~5678 objects (17%), 5s, estimating time left");
	EXPECT_EQ(kp::build::format_build_progress("b", 5700, 5678, 300),
	          "b: 5700 objects (expected ~5678), 5m00s, finishing");
	EXPECT_EQ(kp::build::format_build_progress("b", 12, 0, 75), "b: 12 objects, 1m15s");
}

TEST(BuildProgress, WhichLinesAreObjects)
{
	EXPECT_TRUE(kp::build::is_object_line("  CC      kernel/fork.o"));
	EXPECT_TRUE(kp::build::is_object_line("  CC [M]  fs/fuse/dev.o"));
	EXPECT_TRUE(kp::build::is_object_line("  AS      arch/x86/entry/entry_64.o"));
	EXPECT_TRUE(kp::build::is_object_line("  HOSTCC  scripts/kconfig/conf.o"));
	EXPECT_FALSE(kp::build::is_object_line("  AR      kernel/built-in.a"));
	EXPECT_FALSE(
	        kp::build::is_object_line("  WRAP    arch/x86/include/generated/asm/export.h"));
	EXPECT_FALSE(kp::build::is_object_line("make[1]: Entering directory '/x.o'"));
	EXPECT_FALSE(kp::build::is_object_line("kernel/fork.c:12: warning: unused x.o"));
	EXPECT_FALSE(kp::build::is_object_line("  cc      lower.o"));
}

TEST(BuildProgress, RecordsOfRebuiltObjects)
{
	EXPECT_TRUE(kp::build::is_rebuilt_object_record("kernel/.fork.o.cmd"));
	EXPECT_TRUE(kp::build::is_rebuilt_object_record(".vmlinux.o.cmd"));
	EXPECT_FALSE(
	        kp::build::is_rebuilt_object_record("fs/fuse/.fuse.mod.o.cmd")); // final .ko link
	EXPECT_FALSE(kp::build::is_rebuilt_object_record("arch/x86/boot/.cpu.o.cmd")); // bzImage
	EXPECT_FALSE(kp::build::is_rebuilt_object_record("kernel/.built-in.a.cmd"));
	EXPECT_FALSE(kp::build::is_rebuilt_object_record("kernel/fork.o"));
}

TEST(BuildProgress, LogGetsALineEveryFivePercentAndLinesSplitAcrossReads)
{
	std::vector<std::string> lines;
	BuildProgress bp("b", 100, false, [&](const std::string &s) { lines.push_back(s); });
	std::string out = "  HOSTCC  scripts/basic/fixdep\n" + objects(0, 4);
	bp.feed(out.substr(0, 20), 1); // a read that ends inside a line
	bp.feed(out.substr(20), 2);
	EXPECT_EQ(bp.done(), 4u);
	EXPECT_TRUE(lines.empty());
	bp.feed(objects(4, 1), 3);
	ASSERT_EQ(lines.size(), 1u);
	EXPECT_EQ(lines[0], "b: 5 of ~100 objects (5%), 3s, estimating time left\n");
	bp.feed(objects(5, 4), 20);
	EXPECT_EQ(lines.size(), 1u);
	bp.feed(objects(9, 91), 200); // one read across many steps: one line
	ASSERT_EQ(lines.size(), 2u);
	EXPECT_EQ(lines[1], "b: 100 objects (expected ~100), 3m20s, finishing\n");
	bp.feed(objects(100, 10), 210);
	EXPECT_EQ(lines.size(), 2u);
	EXPECT_EQ(bp.finish(215), "b: 110 objects in 3m35s (expected ~100)");
}

TEST(BuildProgress, LogWithoutExpectedTotalGetsALineAMinute)
{
	std::vector<std::string> lines;
	BuildProgress bp("b", 0, false, [&](const std::string &s) { lines.push_back(s); });
	bp.feed(objects(0, 50), 30);
	EXPECT_TRUE(lines.empty());
	bp.feed(objects(50, 1), 61);
	bp.feed(objects(51, 1), 62);
	ASSERT_EQ(lines.size(), 1u);
	EXPECT_EQ(lines[0], "b: 51 objects, 1m01s\n");
}

TEST(BuildProgress, TerminalRedrawsOneLineAtMostTwiceASecond)
{
	std::vector<std::string> out;
	BuildProgress bp("b", 1000, true, [&](const std::string &s) { out.push_back(s); });
	bp.feed(objects(0, 1), 0.1);
	bp.feed(objects(1, 1), 0.3);
	bp.feed(objects(2, 1), 0.7);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[0], "\rb: 1 of ~1000 objects (0%), 0s, estimating time left\033[K");
	EXPECT_EQ(out[1], "\rb: 3 of ~1000 objects (0%), 1s, estimating time left\033[K");
	bp.feed("make[1]: Leaving directory\n", 5); // no object: no redraw
	EXPECT_EQ(out.size(), 2u);
	EXPECT_EQ(bp.finish(6), "b: 3 objects in 6s (expected ~1000)");
	EXPECT_EQ(out.back(), "\r\033[K");
}
