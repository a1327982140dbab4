// The test kit's process runs (test/unit/kit): stdout and stderr apart or merged, the
// environment, exit statuses and the timeout, all through lib/support's run_process.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "kit/kit.h"

using kp::kit::run;
using kp::kit::sh;

TEST(Kit, RunKeepsStdoutAndStderrApart)
{
	auto r = sh("echo out; echo err1 >&2; echo err2 >&2; exit 4");
	EXPECT_EQ(r.status, 4);
	EXPECT_EQ(r.out, "out\n");
	EXPECT_EQ(r.err, "err1\nerr2\n");
	EXPECT_EQ(r.err_lines(), (std::vector<std::string>{"err1", "err2"}));
	EXPECT_FALSE(r.timed_out);
}

TEST(Kit, MergedOutputKeepsTheOrder)
{
	kp::kit::RunOptions o;
	o.merge_stderr = true;
	auto r = sh("echo a; echo b >&2; echo c", o);
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.out, "a\nb\nc\n");
	EXPECT_EQ(r.err, "");
}

TEST(Kit, RunPassesArgumentsAsIsAndAddsTheEnvironment)
{
	kp::kit::RunOptions o;
	o.env = {{"KIT_X", "x=1"}};
	auto r = run({"/bin/sh", "-c", "printf '%s|' \"$0\" \"$1\" \"$KIT_X\"", "a b", "it's"}, o);
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "a b|it's|x=1|");
}

TEST(Kit, AProgramThatCannotRunIs127)
{
	auto r = run({"/nonexistent/kit-program"});
	EXPECT_EQ(r.status, 127);
	EXPECT_NE(r.err.find("kit-program"), std::string::npos) << r.err;
}

TEST(Kit, TheTimeoutKillsTheProcess)
{
	kp::kit::RunOptions o;
	o.timeout_s = 0.3;
	auto r = sh("sleep 30", o);
	EXPECT_TRUE(r.timed_out);
	EXPECT_EQ(r.status, 128 + SIGKILL);
}

TEST(Kit, QuoteSurvivesTheShell)
{
	std::string s = "a 'b' $c \\d";
	auto r = sh("printf '%s' " + kp::kit::quote(s));
	EXPECT_EQ(r.out, s);
}

TEST(Kit, TempDirIsRemovedAndScratchDirIsFresh)
{
	std::string p;
	{
		kp::kit::TempDir d("kit");
		p = d.path();
		kp::kit::write_file(d / "x/y", "1");
		EXPECT_EQ(kp::kit::read_file(d / "x/y"), "1");
	}
	EXPECT_FALSE(std::filesystem::exists(p));
	auto s = kp::kit::scratch_dir("kit");
	kp::kit::write_file(s / "f", "1");
	EXPECT_TRUE(std::filesystem::is_empty(kp::kit::scratch_dir("kit")));
}
