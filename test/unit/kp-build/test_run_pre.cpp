// Run-pre: a function compiled from source (-ffunction-sections object) against the same
// function in a linked image built without -ffunction-sections, as a distribution builds.
#include <gtest/gtest.h>

#include "error.h"
#include "kit/kit.h"
#include "run_pre.h"

using namespace kp::build;
using kp::kit::sh;
using kp::kit::TempDir;
using kp::kit::write_file;

namespace {

const char *kSource = R"(
static int counter;
static __attribute__((noinline)) int helper(int x) { return x * 3 + counter++; }
int tail(int x) { return helper(x + 1); }
int loop(int n) {
	int s = 0;
	for (int i = 0; i < n; i++)
		s += helper(i) & 7 ? i : -i;
	return s;
}
int _start(void) { return tail(1) + loop(5); }
)";

// obj: the -ffunction-sections object; image: a static link of the same source built the
// distribution's way (one .text), edited by `edit` (a sed expression) first.
void build(const TempDir &d, const std::string &edit = "")
{
	write_file(d / "a.c", kSource);
	write_file(d / "b.c", kSource);
	if (!edit.empty()) {
		ASSERT_EQ(sh("sed -i '" + edit + "' " + d / "b.c").status, 0);
	}
	const std::string cc = "gcc -O2 -fno-pic -fno-asynchronous-unwind-tables -c ";
	ASSERT_EQ(sh(cc + "-ffunction-sections -fdata-sections " + d / "a.c" + " -o " + d / "a.o")
	                  .status,
	          0);
	ASSERT_EQ(sh(cc + d / "b.c" + " -o " + d / "b.o").status, 0);
	ASSERT_EQ(sh("ld -static -e _start " + d / "b.o" + " -o " + d / "image").status, 0);
}

const FunctionCode &by_name(const std::vector<FunctionCode> &fs, const std::string &n)
{
	for (const auto &f : fs)
		if (f.name == n)
			return f;
	throw std::runtime_error("no function " + n);
}

} // namespace

TEST(RunPre, SameSourceMatchesModuloRelocations)
{
	TempDir d;
	build(d);
	auto funcs = object_functions(d / "a.o");
	ImageFunctions image(d / "image");
	for (const char *n : {"helper", "tail", "loop", "_start"}) {
		const FunctionCode &f = by_name(funcs, n);
		RunPreResult r = run_pre_check(f, image);
		EXPECT_TRUE(r.match) << n << ": " << r.describe();
	}
	// The object's calls carry relocations; the image has them resolved.
	EXPECT_FALSE(by_name(funcs, "_start").relocated.empty());
}

TEST(RunPre, EditedFunctionIsRefusedAtItsFirstDifferentInstruction)
{
	TempDir d;
	build(d, "s/x \\* 3/x * 5/");
	auto funcs = object_functions(d / "a.o");
	ImageFunctions image(d / "image");
	RunPreResult r = run_pre_check(by_name(funcs, "helper"), image);
	EXPECT_FALSE(r.match);
	EXPECT_FALSE(r.compiled.empty());
	EXPECT_NE(r.compiled, r.image) << r.describe();
	EXPECT_NE(r.describe().find("instruction"), std::string::npos);
	// The functions the edit did not touch still match.
	EXPECT_TRUE(run_pre_check(by_name(funcs, "loop"), image).match);
}

TEST(RunPre, AWeakFunctionOverriddenInTheImageIsSaidSo)
{
	TempDir d;
	write_file(d / "w.c", "__attribute__((weak)) int hook(int x) { return -22; }\n");
	write_file(d / "s.c", "int hook(int x) { return x == 1 ? 5 : x * 7; }\n"
	                      "int _start(void) { return hook(3); }\n");
	const std::string cc = "gcc -O2 -fno-pic -fno-asynchronous-unwind-tables -c ";
	ASSERT_EQ(sh(cc + "-ffunction-sections " + d / "w.c" + " -o " + d / "w.o").status, 0);
	ASSERT_EQ(sh(cc + d / "w.c" + " -o " + d / "w2.o").status, 0);
	ASSERT_EQ(sh(cc + d / "s.c" + " -o " + d / "s.o").status, 0);
	ASSERT_EQ(sh("ld -static -e _start " + d / "s.o" + " " + d / "w2.o" + " -o " + d / "image")
	                  .status,
	          0);
	auto funcs = object_functions(d / "w.o");
	ASSERT_EQ(funcs.size(), 1u);
	EXPECT_TRUE(funcs[0].weak);
	RunPreResult r = run_pre_check(funcs[0], ImageFunctions(d / "image"));
	EXPECT_FALSE(r.match);
	EXPECT_TRUE(r.overridden);
	EXPECT_NE(r.describe().find("weak definition"), std::string::npos);
}

TEST(RunPre, AFunctionTheImageLacksIsAnError)
{
	TempDir d;
	build(d, "s/loop/other_loop/g");
	auto funcs = object_functions(d / "a.o");
	ImageFunctions image(d / "image");
	try {
		run_pre_check(by_name(funcs, "loop"), image);
		FAIL() << "no error";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("loop is not a function of"),
		          std::string::npos)
		        << e.what();
	}
}

// 6.12 (objtool --hacks=jump_label on vmlinux.o): a jump-label site's jmp in the object is a
// NOP of the same length in the image.  Equal there, and only there.
TEST(RunPre, AJumpLabelSiteMayBeANopInTheImage)
{
	FunctionCode compiled{"f", 0, false, {0xe9, 0x01, 0, 0, 0, 0x90, 0xc3}, {}, {0}};
	FunctionCode image{"f", 0, false, {0x0f, 0x1f, 0x44, 0, 0, 0x90, 0xc3}, {}, {}};
	EXPECT_TRUE(compare_code(compiled, image).match);
	compiled.jump_labels.clear(); // not a jump-label site: a real difference
	RunPreResult r = compare_code(compiled, image);
	EXPECT_FALSE(r.match);
	EXPECT_EQ(r.offset, 0u);
	// A short jmp against a 5-byte NOP is not the same site.
	FunctionCode short_jmp{"f", 0, false, {0xeb, 0x04, 0x90, 0x90, 0x90, 0x90, 0xc3}, {}, {0}};
	EXPECT_FALSE(compare_code(short_jmp, image).match);
}
