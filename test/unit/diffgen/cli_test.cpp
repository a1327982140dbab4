// The diffgen binary: exit codes, messages, no output left behind on failure.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "helpers.h"

namespace {

const char *kBase = "int show(int v) { return v + 1; }\nint data_x = 1;\n";

std::string diffgen(const std::string &args)
{
	return std::string(DIFFGEN_BIN) + " " + args;
}

} // namespace

TEST(DiffgenCli, ExitCodes)
{
	auto changed = kp::test::make_pair_objects(
	        "cli-changed", kBase, "int show(int v) { return v + 2; }\nint data_x = 1;\n");
	std::string out;
	EXPECT_EQ(
	        kp::test::run_command(
	                diffgen(changed.orig + " " + changed.patched + " -o " + changed.out), &out),
	        0)
	        << out;
	EXPECT_TRUE(std::filesystem::exists(changed.out));
	// The output is an object the linker accepts as is (Kbuild links it into the .ko).
	std::string linked = (changed.dir / "linked.o").string();
	EXPECT_EQ(kp::test::run_command("ld -r -o " + linked + " " + changed.out, &out), 0) << out;
	EXPECT_TRUE(out.empty()) << "ld warned: " << out;
	EXPECT_EQ(kp::test::run_command("readelf -W --all " + changed.out + " >/dev/null", &out), 0)
	        << out;
	EXPECT_EQ(out.find("Warning"), std::string::npos) << out;

	auto same = kp::test::make_pair_objects("cli-same", kBase, kBase);
	EXPECT_EQ(kp::test::run_command(diffgen(same.orig + " " + same.patched + " -o " + same.out),
	                                &out),
	          3)
	        << out;
	EXPECT_NE(out.find("no change"), std::string::npos) << out;
	EXPECT_FALSE(std::filesystem::exists(same.out));

	auto data = kp::test::make_pair_objects(
	        "cli-data", kBase, "int show(int v) { return v + 1; }\nint data_x = 2;\n");
	EXPECT_EQ(kp::test::run_command(diffgen(data.orig + " " + data.patched + " -o " + data.out),
	                                &out),
	          2)
	        << out;
	EXPECT_NE(out.find("data_x"), std::string::npos) << out;
	EXPECT_FALSE(std::filesystem::exists(data.out));
}

TEST(DiffgenCli, MalformedInputIsAnErrorNamingTheFile)
{
	auto p = kp::test::make_pair_objects("cli-bad", kBase, kBase);
	std::string bad = (p.dir / "truncated.o").string();
	std::filesystem::copy_file(p.patched, bad);
	std::filesystem::resize_file(bad, std::filesystem::file_size(bad) / 2);
	std::ofstream(p.out) << "stale";
	std::string out;
	EXPECT_EQ(kp::test::run_command(diffgen(p.orig + " " + bad + " -o " + p.out), &out), 1)
	        << out;
	EXPECT_NE(out.find("truncated.o"), std::string::npos) << out;
	EXPECT_FALSE(std::filesystem::exists(p.out));

	std::string text = (p.dir / "text.o").string();
	std::ofstream(text)
	        << "not an object at all, just some text that is long enough to look like a header";
	EXPECT_EQ(kp::test::run_command(diffgen(p.orig + " " + text + " -o " + p.out), &out), 1)
	        << out;
	EXPECT_NE(out.find("not an ELF"), std::string::npos) << out;

	EXPECT_EQ(kp::test::run_command(diffgen(p.orig + " /nonexistent/x.o -o " + p.out), &out), 1)
	        << out;
	EXPECT_NE(out.find("/nonexistent/x.o"), std::string::npos) << out;
}

TEST(DiffgenCli, ExplainReportsFunctionsLinesAndReferences)
{
	auto p = kp::test::make_pair_objects("cli-explain",
	                                     "extern int _printk(const char *, ...);\nint show(int "
	                                     "v)\n{\n\t_printk(\"a\");\n\treturn v + 1;\n}\n",
	                                     "extern int _printk(const char *, ...);\nint show(int "
	                                     "v)\n{\n\t_printk(\"b\");\n\treturn v + 7;\n}\n");
	std::string out;
	ASSERT_EQ(kp::test::run_command(
	                  diffgen(p.orig + " " + p.patched + " -o " + p.out + " --explain"), &out),
	          0)
	        << out;
	EXPECT_NE(out.find("changed functions: 1"), std::string::npos) << out;
	EXPECT_NE(out.find("show"), std::string::npos) << out;
	EXPECT_NE(out.find("fixture.c:"), std::string::npos)
	        << "source file and lines from DWARF:\n"
	        << out;
	EXPECT_NE(out.find("+ "), std::string::npos) << "instruction diff:\n" << out;
	EXPECT_NE(out.find("_printk"), std::string::npos) << out;
	EXPECT_NE(out.find("resolved at load time"), std::string::npos) << out;
}

TEST(DiffgenCli, OutputOverInputIsRefusedAndInputKept)
{
	auto p = kp::test::make_pair_objects("cli-overwrite", kBase, kBase);
	std::string out;
	EXPECT_EQ(
	        kp::test::run_command(diffgen(p.orig + " " + p.patched + " -o " + p.patched), &out),
	        1)
	        << out;
	EXPECT_NE(out.find("overwrite"), std::string::npos) << out;
	EXPECT_TRUE(std::filesystem::exists(p.patched));
}
