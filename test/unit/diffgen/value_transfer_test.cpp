// KP_TRANSFER_VALUE (kmod/patch/kp-value.h): diffgen accepts a changed initial value of an
// existing global only for the variables the patch marks, and carries the old and new
// value in a kp_values record.  The real header, compiled with the kernel's flags: small
// fixtures for each refusal, and the test kernel's own kernel/sys.c (build/linux-fs).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.h"
#include "kp/abi.h"
#include "records/patch_records.h"

namespace fs = std::filesystem;
using Set = std::set<std::string>;

namespace {

fs::path repo()
{
	return fs::path(DIFFGEN_TEST_DIR).parent_path().parent_path().parent_path();
}

// The headers kp-build puts beside a patched source (kp-value.h needs kp-abi.h).
void install_headers(const fs::path &dir)
{
	fs::copy_file(repo() / "kmod/patch/kp-value.h", dir / "kp-value.h",
	              fs::copy_options::overwrite_existing);
	fs::copy_file(repo() / "include/kp/abi.h", dir / "kp-abi.h",
	              fs::copy_options::overwrite_existing);
}

// Minimal linux/compiler.h and linux/types.h for a fixture built with -nostdinc.
void install_stub_kernel_headers(const fs::path &dir)
{
	fs::create_directories(dir / "linux");
	std::ofstream(dir / "linux/compiler.h")
	        << "#define __used __attribute__((__used__))\n"
	           "#define __section(s) __attribute__((__section__(s)))\n"
	           "#define ___PASTE(a, b) a##b\n#define __PASTE(a, b) ___PASTE(a, b)\n"
	           "#define __UNIQUE_ID(p) __PASTE(__PASTE(__UNIQUE_ID_, p), __COUNTER__)\n";
	std::ofstream(dir / "linux/types.h")
	        << "typedef unsigned long long __u64;\ntypedef long long __s64;\n";
}

std::string compile_with_header(const fs::path &dir, const std::string &src)
{
	fs::create_directories(dir);
	install_headers(dir);
	install_stub_kernel_headers(dir);
	auto c = dir / "fixture.c", o = dir / "fixture.o";
	std::ofstream(c) << "#include \"kp-value.h\"\n" << src;
	std::string out;
	int rc = kp::test::run_command(std::string("gcc ") + kp::test::kKernelCflags + " -I" +
	                                       dir.string() + " -c " + c.string() + " -o " +
	                                       o.string(),
	                               &out);
	EXPECT_EQ(rc, 0) << out;
	return o.string();
}

struct Run {
	kp::diffgen::Result res;
	std::string out;
	std::string messages() const
	{
		std::string s;
		for (const auto &m : res.messages)
			s += m + "\n";
		return s;
	}
};

Run diff_fixture(const std::string &test, const std::string &orig, const std::string &patched)
{
	fs::path dir = kp::test::scratch_dir("value-" + test);
	std::string o = compile_with_header(dir / "orig", orig);
	std::string p = compile_with_header(dir / "patched", patched);
	Run r;
	r.out = (dir / "out.o").string();
	r.res = kp::diffgen::run(o, p, r.out, {});
	return r;
}

std::vector<kp::records::ValueRecord> values_of(const std::string &path)
{
	auto obj = kp::test::load_object(path);
	auto recs = kp::records::read_patch_records(*obj);
	EXPECT_TRUE(recs.has_value()) << (recs ? "" : recs.error().message());
	return recs ? recs->values : std::vector<kp::records::ValueRecord>{};
}

std::vector<uint8_t> le32(uint32_t v)
{
	return {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
}

const char *kReader = "int read_knob(void) { return knob + 1; }\n";

} // namespace

TEST(DiffgenValues, MarkedVariableIsTransferredAndReferencedLive)
{
	auto r = diff_fixture("marked", std::string("int knob = 5;\n") + kReader,
	                      std::string("int knob = 6;\nKP_TRANSFER_VALUE(knob);\n") +
	                              "int read_knob(void) { return knob + 2; }\n");
	ASSERT_EQ(r.res.failure, std::nullopt) << r.messages();
	EXPECT_EQ(r.res.transferred, std::vector<std::string>{"knob"});
	auto o = kp::test::read_output(r.out);
	EXPECT_EQ(o.defined_funcs, Set({"read_knob"}));
	// The new code uses the live variable: no copy of knob in the patch.
	EXPECT_FALSE(o.defined_objects.count("knob"));
	EXPECT_TRUE(o.undefined.count("knob"));
	auto vals = values_of(r.out);
	ASSERT_EQ(vals.size(), 1u);
	EXPECT_EQ(vals[0].object, "vmlinux");
	EXPECT_EQ(vals[0].variable, "knob");
	EXPECT_EQ(vals[0].old_value, le32(5));
	EXPECT_EQ(vals[0].new_value, le32(6));
}

TEST(DiffgenValues, ValueOnlyPatchAndBssToData)
{
	// A value change alone is a change; a zero-initialised (.bss) variable's old value is 0.
	auto r = diff_fixture("bss", std::string("int knob;\n") + kReader,
	                      std::string("int knob = 7;\nKP_TRANSFER_VALUE(knob);\n") + kReader);
	ASSERT_EQ(r.res.failure, std::nullopt) << r.messages();
	auto vals = values_of(r.out);
	ASSERT_EQ(vals.size(), 1u);
	EXPECT_EQ(vals[0].old_value, le32(0));
	EXPECT_EQ(vals[0].new_value, le32(7));
	EXPECT_TRUE(kp::test::read_output(r.out).defined_funcs.empty());
}

TEST(DiffgenValues, UnmarkedChangeIsStillRefused)
{
	auto r = diff_fixture(
	        "unmarked", std::string("int knob = 5;\nint other = 1;\n") + kReader,
	        std::string("int knob = 6;\nKP_TRANSFER_VALUE(knob);\nint other = 2;\n") + kReader);
	EXPECT_EQ(r.res.failure, kp::ErrorKind::unsupported);
	EXPECT_NE(r.messages().find("changed existing data: other"), std::string::npos)
	        << r.messages();
	EXPECT_EQ(r.messages().find("data: knob"), std::string::npos) << r.messages();
	EXPECT_FALSE(fs::exists(r.out));
}

TEST(DiffgenValues, NotPlainDataIsRefusedNamingTheVariable)
{
	struct Case {
		const char *name, *orig, *patched, *why;
	} cases[] = {
	        {"const", "const int knob = 5;\n", "const int knob = 6;\n", "read-only"},
	        {"percpu", "__attribute__((section(\".data..percpu\"))) int knob = 5;\n",
	         "__attribute__((section(\".data..percpu\"))) int knob = 6;\n", "per-cpu"},
	        {"roafter", "__attribute__((section(\".data..ro_after_init\"))) int knob = 5;\n",
	         "__attribute__((section(\".data..ro_after_init\"))) int knob = 6;\n",
	         "__ro_after_init"},
	        {"pointer", "int a, b;\nint *knob = &a;\n", "int a, b;\nint *knob = &b;\n",
	         "holds an address"},
	        {"resized", "int knob[2] = {1, 2};\n", "int knob[3] = {1, 2, 3};\n",
	         "size changes"},
	};
	for (const Case &c : cases) {
		auto r = diff_fixture(c.name, std::string(c.orig) + kReader,
		                      std::string(c.patched) + "KP_TRANSFER_VALUE(knob);\n" +
		                              kReader);
		EXPECT_EQ(r.res.failure, kp::ErrorKind::unsupported)
		        << c.name << ": " << r.messages();
		EXPECT_NE(r.messages().find("KP_TRANSFER_VALUE(knob)"), std::string::npos)
		        << c.name << ": " << r.messages();
		EXPECT_NE(r.messages().find(c.why), std::string::npos)
		        << c.name << ": " << r.messages();
	}
}

TEST(DiffgenValues, MisplacedMarksAreRefused)
{
	// Unchanged, new, and defined elsewhere.
	auto r = diff_fixture("unchanged", std::string("int knob = 5;\n") + kReader,
	                      std::string("int knob = 5;\nKP_TRANSFER_VALUE(knob);\n") +
	                              "int read_knob(void) { return knob + 2; }\n");
	EXPECT_EQ(r.res.failure, kp::ErrorKind::unsupported);
	EXPECT_NE(r.messages().find("its initial value does not change"), std::string::npos)
	        << r.messages();
	r = diff_fixture("new", std::string("int knob = 5;\n") + kReader,
	                 std::string("int knob = 5;\nint fresh = 1;\nKP_TRANSFER_VALUE(fresh);\n") +
	                         "int read_knob(void) { return knob + fresh; }\n");
	EXPECT_EQ(r.res.failure, kp::ErrorKind::unsupported);
	EXPECT_NE(r.messages().find("new in the patch"), std::string::npos) << r.messages();
	r = diff_fixture("extern", std::string("extern int knob;\n") + kReader,
	                 std::string("extern int knob;\nKP_TRANSFER_VALUE(knob);\n") +
	                         "int read_knob(void) { return knob + 2; }\n");
	EXPECT_EQ(r.res.failure, kp::ErrorKind::unsupported);
	EXPECT_NE(r.messages().find("not a variable defined in this object"), std::string::npos)
	        << r.messages();
}

// A kp_policy record (KPATCH_ROLLBACK_ON, issue 25) is carried whole, as callbacks are,
// and read back by lib/records: the rollback kinds the patch author asked for.
TEST(DiffgenPolicy, PolicyRecordIsCarried)
{
	auto r = diff_fixture(
	        "policy", std::string("int knob = 5;\n") + kReader,
	        std::string("int knob = 5;\nint read_knob(void) { return knob + 2; }\n") +
	                "static const struct kp_policy_rec pol __used __attribute__((aligned(8)))"
	                " __section(\"kp_policy\") = { .rollback_on = KP_ROLLBACK_WARN };\n");
	ASSERT_EQ(r.res.failure, std::nullopt) << r.messages();
	auto obj = kp::test::load_object(r.out);
	auto recs = kp::records::read_patch_records(*obj);
	ASSERT_TRUE(recs.has_value()) << recs.error().message();
	EXPECT_EQ(recs->rollback_on, KP_ROLLBACK_WARN);
	EXPECT_EQ(recs->funcs.size(), 1u);
}
