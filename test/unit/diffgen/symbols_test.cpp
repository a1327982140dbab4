// --symbols: sympos, exported vs not, local names resolved through STT_FILE blocks.
#include <gtest/gtest.h>

#include <filesystem>

#include "helpers.h"

using Set = std::set<std::string>;

namespace {

const char *kOther = R"(
#define noinline __attribute__((noinline))
static noinline int dup(int v) { return v * 11; }
int other_user(int v) { return dup(v); }
int __ksymtab_exported_helper;
)";

std::string fixture(int k)
{
	return std::string(R"(
#define noinline __attribute__((noinline))
static noinline int dup(int v) { return v + 5; }
noinline int exported_helper(int v) { return v - 1; }
noinline int private_helper(int v) { return v ^ 3; }
int show(int v) { return dup(v) + exported_helper(v) + private_helper(v) + )") +
	       std::to_string(k) + "; }\n";
}

struct Target {
	kp::test::Pair pair;
	std::string target;
};

Target build()
{
	Target t;
	t.pair = kp::test::make_pair_objects("symbols", fixture(1), fixture(2));
	std::string other = kp::test::compile(t.pair.dir, "other", kOther);
	t.target = (t.pair.dir / "target.elf").string();
	std::string out;
	int rc = kp::test::run_command("ld -static -e 0 --unresolved-symbols=ignore-all -o " +
	                                       t.target + " " + other + " " + t.pair.orig,
	                               &out);
	EXPECT_EQ(rc, 0) << out;
	return t;
}

} // namespace

TEST(DiffgenSymbols, SymposExportsAndLocalNames)
{
	Target t = build();
	kp::diffgen::Options opts;
	opts.symbols = t.target;
	auto r = kp::diffgen::run(t.pair.orig, t.pair.patched, t.pair.out, opts);
	ASSERT_EQ(r.failure, std::nullopt) << (r.messages.empty() ? "" : r.messages[0]);
	auto o = kp::test::read_output(t.pair.out);
	EXPECT_EQ(o.defined_funcs, Set({"show"}));
	ASSERT_EQ(o.funcs.size(), 1u);
	EXPECT_EQ(o.funcs[0].sympos, 0u);
	// dup: second of two same-named locals in address order (other.o is linked first).
	EXPECT_TRUE(o.undefined.count("dup.kp.2"))
	        << "local with a clashing name gets the .kp.<sympos> suffix";
	EXPECT_FALSE(o.undefined.count("dup"));
	EXPECT_TRUE(o.undefined.count("exported_helper"));
	EXPECT_TRUE(o.undefined.count("private_helper"));
	std::map<std::string, kp::test::SymRec> syms;
	for (const auto &s : o.syms)
		syms[s.name] = s;
	ASSERT_TRUE(syms.count("dup"));
	EXPECT_EQ(syms["dup"].sympos, 2u);
	EXPECT_EQ(syms["dup"].addr_sym, "dup.kp.2");
	EXPECT_EQ(syms["dup"].objname, "vmlinux");
	ASSERT_TRUE(syms.count("private_helper"));
	EXPECT_EQ(syms["private_helper"].sympos, 0u);
	EXPECT_FALSE(syms.count("exported_helper"))
	        << "exported symbols are resolved by the module loader";
}

TEST(DiffgenSymbols, ModuleTargetUsesKpRelocsForModuleSymbols)
{
	Target t = build();
	kp::diffgen::Options opts;
	opts.target = "kp_test_mod";
	auto r = kp::diffgen::run(t.pair.orig, t.pair.patched, t.pair.out, opts);
	ASSERT_EQ(r.failure, std::nullopt);
	auto o = kp::test::read_output(t.pair.out);
	ASSERT_EQ(o.funcs.size(), 1u);
	EXPECT_EQ(o.funcs[0].objname, "kp_test_mod");
	// The module's own static dup(): applied by the core (kp_relocs), no undefined symbol.
	EXPECT_FALSE(o.undefined.count("dup"));
	ASSERT_EQ(o.relocs.size(), 1u);
	EXPECT_EQ(o.relocs[0].name, "dup");
	EXPECT_EQ(o.relocs[0].objname, "kp_test_mod");
	EXPECT_TRUE(o.relocs[0].type == R_X86_64_PLT32 || o.relocs[0].type == R_X86_64_PC32)
	        << o.relocs[0].type;
	EXPECT_EQ(o.relocs[0].addend, -4);
	EXPECT_EQ(o.relocs[0].dest.rfind(".text.show+", 0), 0u) << o.relocs[0].dest;
	// Globals: left to the module loader (may be vmlinux's), no kp_syms for a module.
	EXPECT_TRUE(o.undefined.count("exported_helper"));
	EXPECT_TRUE(o.syms.empty());
}

TEST(DiffgenSymbols, ModuleSymbolFromSpecialSectionIsRefused)
{
	// A jump-label-like entry whose key is a static of the module: it would need kp_relocs.
	auto body = [](int k) {
		return std::string(R"(
struct jump_entry { int code; int target; long key; };
struct jump_entry kp_jump_entry_type_anchor;
static int my_key __attribute__((used));
int f(int v) {
	asm goto("1: .byte 0x0f,0x1f,0x44,0x00,0x00\n.pushsection __jump_table,\"aw\"\n.balign 8\n"
		 ".long 1b - .\n.long %l[yes] - .\n.quad my_key - .\n.popsection" : : : : yes);
	return v + )") +
		       std::to_string(k) + R"(;
yes:
	return 0;
}
)";
	};
	auto p = kp::test::make_pair_objects("jumpkey", body(1), body(2));
	kp::diffgen::Options opts;
	opts.target = "kp_test_mod";
	auto r = kp::diffgen::run(p.orig, p.patched, p.out, opts);
	std::string all;
	for (const auto &m : r.messages)
		all += m;
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << all;
	EXPECT_NE(all.find("__jump_table"), std::string::npos) << all;
	EXPECT_NE(all.find("my_key"), std::string::npos) << all;
	EXPECT_FALSE(std::filesystem::exists(p.out));
	// The same patch against vmlinux is fine: the key becomes an ordinary reference.
	auto v = kp::diffgen::run(p.orig, p.patched, p.out, {});
	ASSERT_EQ(v.failure, std::nullopt);
	auto o = kp::test::read_output(p.out);
	const auto *jt = o.obj->section("__jump_table");
	ASSERT_NE(jt, nullptr);
	EXPECT_EQ(jt->size(), 16u);
	EXPECT_TRUE(o.undefined.count("my_key"));
}

TEST(DiffgenSymbols, ChangedFunctionMissingFromTargetIsRefused)
{
	Target t = build();
	// A target that lacks show().
	std::string other_only = (t.pair.dir / "other-only.elf").string();
	std::string out;
	ASSERT_EQ(kp::test::run_command("ld -static -e 0 --unresolved-symbols=ignore-all -o " +
	                                        other_only + " " +
	                                        (t.pair.dir / "other.o").string(),
	                                &out),
	          0)
	        << out;
	kp::diffgen::Options opts;
	opts.symbols = other_only;
	auto r = kp::diffgen::run(t.pair.orig, t.pair.patched, t.pair.out, opts);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported);
	std::string all;
	for (const auto &m : r.messages)
		all += m;
	EXPECT_NE(all.find("show"), std::string::npos) << all;
	EXPECT_NE(all.find("not found"), std::string::npos) << all;
	EXPECT_FALSE(std::filesystem::exists(t.pair.out));
}

// A target whose STT_FILE symbols were stripped (`objcopy --strip-debug` drops them): two
// locals named dup, nothing says which is this object's. diffgen must refuse, not guess
// the first (the core would then redirect or verify the wrong function).
TEST(DiffgenSymbols, SameNamedLocalsWithoutFileSymbolsAreRefused)
{
	Target t = build();
	std::string stripped = (t.pair.dir / "target-nofile.elf").string();
	std::string out;
	ASSERT_EQ(kp::test::run_command("objcopy --strip-debug " + t.target + " " + stripped, &out),
	          0)
	        << out;
	ASSERT_EQ(kp::test::run_command("readelf -sW " + stripped + " | grep -c ' FILE '", &out), 1)
	        << "the stripped target still has STT_FILE symbols:\n"
	        << out;
	kp::diffgen::Options opts;
	opts.symbols = stripped;
	auto r = kp::diffgen::run(t.pair.orig, t.pair.patched, t.pair.out, opts);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported);
	std::string all;
	for (const auto &m : r.messages)
		all += m;
	EXPECT_NE(all.find("2 local symbols are named dup"), std::string::npos) << all;
	EXPECT_NE(all.find("no STT_FILE symbols"), std::string::npos) << all;
	EXPECT_FALSE(std::filesystem::exists(t.pair.out));
}
