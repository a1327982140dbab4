// One test per diffgen behaviour, on small C fixtures compiled with the kernel's flags.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "helpers.h"
#include "names.h"
#include "references.h"

using kp::diffgen::Options;
using kp::test::make_pair_objects;
using kp::test::read_output;
using Set = std::set<std::string>;

namespace {

const char *kPrelude = R"(
#define noinline __attribute__((noinline))
#define notrace __attribute__((no_instrument_function))
#define __init __attribute__((section(".init.text"), cold))
extern int _printk(const char *fmt, ...);
extern void __might_sleep(const char *file, int line);
extern int exported_thing(int);
)";

std::string src(const std::string &body)
{
	return std::string(kPrelude) + body;
}

kp::diffgen::Result diff(const kp::test::Pair &p, Options opts = {})
{
	return kp::diffgen::run(p.orig, p.patched, p.out, opts);
}

std::set<std::string> func_rec_names(const kp::test::Output &o)
{
	std::set<std::string> s;
	for (const auto &f : o.funcs)
		s.insert(f.name);
	return s;
}

} // namespace

TEST(DiffgenFixtures, ChangedFunctionOnlyIsEmitted)
{
	auto base = R"(
noinline int helper(int x) { return x * 3; }
int show(int v) { _printk("cmdline %d\n", v); return helper(v); }
int other(int v) { return v + 1; }
)";
	auto patched = R"(
noinline int helper(int x) { return x * 3; }
int show(int v) { _printk("kp patched %d\n", v); return helper(v); }
int other(int v) { return v + 1; }
)";
	auto p = make_pair_objects("changed", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"show"}));
	ASSERT_EQ(o.funcs.size(), 1u);
	EXPECT_EQ(o.funcs[0].name, "show");
	EXPECT_EQ(o.funcs[0].objname, "vmlinux");
	EXPECT_EQ(o.funcs[0].new_func, "show");
	EXPECT_EQ(o.funcs[0].sympos, 0u);
	EXPECT_EQ(o.funcs[0].old_size, kp::test::symbol_size(p.orig, "show"));
	EXPECT_EQ(o.funcs[0].new_size, kp::test::symbol_size(p.patched, "show"));
	// Unchanged callee and kernel functions stay references to the running kernel.
	EXPECT_TRUE(o.undefined.count("helper"));
	EXPECT_TRUE(o.undefined.count("_printk"));
	EXPECT_TRUE(o.undefined.count("__fentry__"));
	// __mcount_loc regenerated for the included function only.
	EXPECT_EQ(o.section_sizes["__mcount_loc"], 8u);
}

// CALL_PADDING (6.12): the compiler puts 16 NOPs before each function
// (-fpatchable-function-entry=16,16, here by attribute) and records them in
// __patchable_function_entries; the replacement keeps them, 16 bytes into its section, so
// objtool names them __pfx_show and call-depth tracking finds NOPs there.
TEST(DiffgenFixtures, ReplacementKeepsTheCompilersPadding)
{
	auto body = [](const char *text) {
		return std::string("__attribute__((patchable_function_entry(16, 16)))\n"
		                   "int show(int v) { _printk(\"") +
		       text + "\", v); return v + 1; }\n";
	};
	auto p = make_pair_objects("padding", src(body("cmdline %d\\n")),
	                           src(body("kp patched %d\\n")));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	const kp::elf::Symbol *show = nullptr;
	for (const auto &sym : o.obj->symbols())
		if (sym->name == "show")
			show = sym.get();
	ASSERT_TRUE(show && show->sec);
	EXPECT_EQ(show->value, 16u);
	EXPECT_EQ(show->size, kp::test::symbol_size(p.patched, "show"));
	ASSERT_EQ(show->sec->size(), 16u + show->size);
	for (size_t i = 0; i < 16; i++)
		EXPECT_EQ(show->sec->data[i], 0x90) << "byte " << i << " of the padding";
}

TEST(DiffgenFixtures, IdenticalObjectsAreNoChange)
{
	auto s = R"(int show(int v) { _printk("x %d\n", v); return v; })";
	auto p = make_pair_objects("nochange", src(s), src(s));
	std::ofstream(p.out) << "stale";
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::no_change) << kp::test::joined(r);
	EXPECT_FALSE(std::filesystem::exists(p.out));
}

TEST(DiffgenFixtures, NewFunctionIncludedWithoutFuncRecord)
{
	auto base = R"(
int show(int v) { return v + 1; }
)";
	auto patched = R"(
static noinline int new_helper(int v) { _printk("new %d\n", v); return v * 7; }
int show(int v) { return new_helper(v) + 1; }
)";
	auto p = make_pair_objects("newfunc", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"show", "new_helper"}));
	EXPECT_EQ(func_rec_names(o), Set({"show"}));
	EXPECT_EQ(r.added, std::vector<std::string>({"new_helper"}));
}

TEST(DiffgenFixtures, StaticLocalRefersToRunningVariable)
{
	auto base = R"(
int count_calls(void) { static int calls; calls++; return calls; }
)";
	auto patched = R"(
int count_calls(void) { static int calls; calls += 2; return calls; }
)";
	auto p = make_pair_objects("staticlocal", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"count_calls"}));
	EXPECT_TRUE(o.defined_objects.empty()) << "static local must not be a fresh copy";
	// The running kernel's variable, by the original object's name.
	std::string orig_name;
	auto orig = kp::test::load_object(p.orig);
	for (const auto &s : orig->symbols())
		if (s->is_item() && s->name.rfind("calls", 0) == 0)
			orig_name = s->name;
	ASSERT_FALSE(orig_name.empty());
	EXPECT_TRUE(o.undefined.count(orig_name));
	bool recorded = false;
	for (const auto &s : o.syms)
		recorded |= s.name == orig_name && s.addr_sym == orig_name;
	EXPECT_TRUE(recorded) << "a local of the target gets a kp_sym_rec";
}

TEST(DiffgenFixtures, RenumberedStaticLocalsMatchedThroughTheirFunctions)
{
	// Adding a static local in front renumbers the others (.N suffixes shift).
	auto base = R"(
int a_fn(void) { static int count; return ++count; }
int b_fn(void) { static int count; return count += 5; }
)";
	auto patched = R"(
int z_fn(void) { static int count; return count--; }
int a_fn(void) { static int count; return ++count; }
int b_fn(void) { static int count; return count += 6; }
)";
	auto p = make_pair_objects("renumbered", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"b_fn", "z_fn"}));
	EXPECT_EQ(func_rec_names(o), Set({"b_fn"}));
	// b_fn's count is the original b_fn's count.
	auto orig = kp::test::load_object(p.orig);
	std::string b_count;
	for (const auto &sec : orig->sections()) {
		if (sec->name != ".text.b_fn")
			continue;
		for (const auto &rel : sec->relocs) {
			auto t = kp::diffgen::resolve(*orig, rel, true);
			if (t.item && t.item->name.rfind("count", 0) == 0)
				b_count = t.item->name;
		}
	}
	ASSERT_FALSE(b_count.empty());
	EXPECT_TRUE(o.undefined.count(b_count)) << "expected a reference to " << b_count;
	EXPECT_EQ(o.defined_objects.size(), 1u) << "only z_fn's new count is defined";
}

TEST(DiffgenFixtures, SpecialStaticsAreIncludedFresh)
{
	auto base = R"(
int warn_once(int v) {
	static int __already_done __attribute__((section(".data..once")));
	if (!__already_done) { __already_done = 1; _printk("%s %d\n", __func__, v); }
	return v;
}
)";
	auto patched = R"(
int warn_once(int v) {
	static int __already_done __attribute__((section(".data..once")));
	if (!__already_done) { __already_done = 1; _printk("%s: %d!\n", __func__, v); }
	return v;
}
)";
	auto p = make_pair_objects("specialstatic", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"warn_once"}));
	bool once = false, func = false;
	for (const auto &n : o.defined_objects) {
		once |= n.rfind("__already_done", 0) == 0;
		func |= n.rfind("__func__", 0) == 0;
	}
	EXPECT_TRUE(once) << "__already_done is taken fresh";
	EXPECT_TRUE(func) << "__func__ is taken fresh";
	for (const auto &u : o.undefined)
		EXPECT_EQ(u.rfind("__already_done", 0), std::string::npos);
}

TEST(DiffgenFixtures, ChangedCloneMarksParentChanged)
{
	// A static function called with a constant argument becomes f.constprop.0.
	auto base = R"(
static noinline int scale(int v, int k) { _printk("s %d\n", v); return v * k + 1; }
int user(int v) { return scale(v, 5); }
int other(int v) { return v; }
)";
	auto patched = R"(
static noinline int scale(int v, int k) { _printk("s %d\n", v); return v * k + 2; }
int user(int v) { return scale(v, 5); }
int other(int v) { return v; }
)";
	auto p = make_pair_objects("clone", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	std::string clone;
	for (const auto &f : o.defined_funcs)
		if (f.rfind("scale", 0) == 0)
			clone = f;
	ASSERT_FALSE(clone.empty());
	if (clone == "scale")
		GTEST_SKIP() << "compiler did not clone scale()";
	EXPECT_NE(clone.find(".constprop."), std::string::npos);
	// The clone's parent is marked changed (here: scale's parent, if emitted, or the clone).
	EXPECT_TRUE(func_rec_names(o).count(clone));
	EXPECT_FALSE(o.defined_funcs.count("other"));
}

TEST(DiffgenFixtures, LineOnlyChangeIsNoChange)
{
	auto base = R"(
int sleeper(int v) {
	__might_sleep("f.c", __LINE__);
	return v + 2;
}
)";
	auto patched = R"(

int sleeper(int v) {
	__might_sleep("f.c", __LINE__);
	return v + 2;
}
)";
	auto p = make_pair_objects("lineonly", src(base), src(patched));
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::no_change) << kp::test::joined(r);
	EXPECT_FALSE(std::filesystem::exists(p.out));
}

TEST(DiffgenFixtures, ImmediateChangeBeforeOtherCallIsAChange)
{
	auto base = R"(
int caller(int v) { return exported_thing(10) + v; }
)";
	auto patched = R"(
int caller(int v) { return exported_thing(11) + v; }
)";
	auto p = make_pair_objects("immediate", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	EXPECT_EQ(read_output(p.out).defined_funcs, Set({"caller"}));
}

TEST(DiffgenFixtures, StringLiteralsComparedByContent)
{
	// a_fn's strings move inside the string section; b_fn is unchanged.
	auto base = R"(
int a_fn(int v) { _printk("alpha %d\n", v); return v; }
int b_fn(int v) { _printk("beta %d\n", v); return v; }
)";
	auto patched = R"(
int a_fn(int v) { _printk("a much longer alpha message %d\n", v); return v; }
int b_fn(int v) { _printk("beta %d\n", v); return v; }
)";
	auto p = make_pair_objects("strings", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"a_fn"}));
	bool found = false;
	for (const auto &sec : o.obj->sections()) {
		std::string d(sec->data.begin(), sec->data.end());
		found |= d.find("a much longer alpha message") != std::string::npos;
	}
	EXPECT_TRUE(found) << "the new string literal is carried";
}

TEST(DiffgenFixtures, SharedStringSectionOffsetsDoNotCountAsChanges)
{
	// -fmerge-constants with one string section: inserting a string shifts offsets.
	auto base = R"(
const char *a_fn(void) { return "first"; }
const char *b_fn(void) { return "second"; }
)";
	auto patched = R"(
const char *n_fn(void) { return "zeroth string"; }
const char *a_fn(void) { return "first"; }
const char *b_fn(void) { return "second"; }
)";
	auto p = make_pair_objects("stroffsets", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	EXPECT_EQ(read_output(p.out).defined_funcs, Set({"n_fn"}));
}

TEST(DiffgenFixtures, NewDataIsIncluded)
{
	auto base = R"(
int reader(void) { return 1; }
)";
	auto patched = R"(
int kp_new_table[4] = {1, 2, 3, 4};
int reader(void) { return kp_new_table[2]; }
)";
	auto p = make_pair_objects("newdata", src(base), src(patched));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"reader"}));
	EXPECT_EQ(o.defined_objects, Set({"kp_new_table"}));
	EXPECT_FALSE(o.undefined.count("kp_new_table"));
}

TEST(DiffgenFixtures, ChangedExistingDataIsRefused)
{
	auto base = R"(
int table[4] = {1, 2, 3, 4};
int reader(int i) { return table[i]; }
)";
	auto patched = R"(
int table[4] = {1, 2, 3, 5};
int reader(int i) { return table[i]; }
)";
	auto p = make_pair_objects("changeddata", src(base), src(patched));
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("table"), std::string::npos) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find(".data.table"), std::string::npos)
	        << kp::test::joined(r);
	EXPECT_FALSE(std::filesystem::exists(p.out));
}

TEST(DiffgenFixtures, ChangedInitCodeIsRefused)
{
	auto base = R"(
__init int setup_thing(void) { return exported_thing(1); }
int user(void) { return 3; }
)";
	auto patched = R"(
__init int setup_thing(void) { return exported_thing(2); }
int user(void) { return 3; }
)";
	auto p = make_pair_objects("initcode", src(base), src(patched));
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("__init"), std::string::npos) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("setup_thing"), std::string::npos)
	        << kp::test::joined(r);
}

TEST(DiffgenFixtures, NotraceFunctionIsRefused)
{
	auto base = R"(
notrace int hot(int v) { return exported_thing(v); }
)";
	auto patched = R"(
notrace int hot(int v) { return exported_thing(v + 1); }
)";
	auto p = make_pair_objects("notrace", src(base), src(patched));
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("hot"), std::string::npos);
	EXPECT_NE(kp::test::joined(r).find("ftrace"), std::string::npos);
}

TEST(DiffgenFixtures, NotraceStaticFunctionIsReplacedThroughItsCallers)
{
	// Like SYSCALL_DEFINE's out-of-line `static inline` __do_sys_X (the kernel's inline is
	// notrace).
	auto body = [](int k) {
		return R"(
static notrace noinline long do_thing(int v) { return exported_thing(v) + )" +
		       std::to_string(k) + R"(; }
long sys_thing(int v) { return do_thing(v); }
long sys_other(int v) { return do_thing(v + 1) * 2; }
int unrelated(int v) { return v; }
)";
	};
	auto p = make_pair_objects("notrace-static", src(body(1)), src(body(2)));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"do_thing", "sys_thing", "sys_other"}));
	EXPECT_EQ(func_rec_names(o), Set({"sys_thing", "sys_other"}));
	EXPECT_FALSE(o.undefined.count("do_thing")) << "callers must call the new copy";
}

TEST(DiffgenFixtures, NotraceStaticFunctionWithAddressTakenIsRefused)
{
	auto body = [](int k) {
		return R"(
static notrace noinline long do_thing(int v) { return exported_thing(v) + )" +
		       std::to_string(k) + R"(; }
long (*thing_ops[1])(int) = { do_thing };
long sys_thing(int v) { return do_thing(v); }
)";
	};
	auto p = make_pair_objects("notrace-addr", src(body(1)), src(body(2)));
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("thing_ops"), std::string::npos) << kp::test::joined(r);
}

TEST(DiffgenFixtures, BugTableFilteredToIncludedFunctions)
{
	// Entries shaped like 6.1's struct bug_entry (relative pointers), size from DWARF.
	auto body = [](int k) {
		return std::string(R"(
struct bug_entry { int bug_addr_disp; int file_disp; unsigned short line; unsigned short flags; };
struct bug_entry kp_bug_entry_type_anchor;
#define BUG_HERE() asm volatile("1: ud2\n.pushsection __bug_table,\"aw\"\n2: .long 1b - .\n .long 0\n .word 7\n .word 0\n .popsection")
int f_one(int v) { if (v > 100) BUG_HERE(); return v + )") +
		       std::to_string(k) + R"(; }
int f_two(int v) { if (v > 200) BUG_HERE(); return v * 2; }
)";
	};
	auto p = make_pair_objects("bugtable", src(body(1)), src(body(2)));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"f_one"}));
	const auto *bt = o.obj->section("__bug_table");
	ASSERT_NE(bt, nullptr);
	EXPECT_EQ(bt->size(), 12u);
	ASSERT_EQ(bt->relocs.size(), 1u);
	EXPECT_EQ(bt->relocs[0].sym->name, "f_one");
}

TEST(DiffgenFixtures, AliasesShareOneReplacement)
{
	auto body = [](int k) {
		return "static long do_thing(int v) { return exported_thing(v) + " +
		       std::to_string(k) +
		       "; }\nlong sys_thing(int v) __attribute__((alias(\"do_thing\")));\n";
	};
	auto p = make_pair_objects("alias", src(body(1)), src(body(2)));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(o.defined_funcs, Set({"do_thing", "sys_thing"}));
	EXPECT_EQ(func_rec_names(o), Set({"sys_thing"}))
	        << "one ftrace redirect per address (the global name)";
}

TEST(DiffgenFixtures, ChangedSectionGroupIsRefused)
{
	auto body = [](int k) {
		return R"(
asm(".section .text.grouped,\"axG\",@progbits,kp_group_sig,comdat\n"
    ".globl kp_group_sig\nkp_group_sig:\n .byte )" +
		       std::to_string(k) + R"(\n.previous");
int user(int v) { return v; }
int changed(int v) { return v * )" +
		       std::to_string(k + 1) + R"(; }
)";
	};
	// Unchanged group: fine.
	auto same = make_pair_objects("group-same", src(body(1)), src(body(1)));
	EXPECT_EQ(diff(same).failure, kp::ErrorKind::no_change);
	// Group whose members change (a new member section) is refused.
	auto changed_src =
	        body(1) +
	        "asm(\".section .data.grouped,\\\"awG\\\",@progbits,kp_group_sig,comdat\\n.long "
	        "1\\n.previous\");\n";
	auto p = make_pair_objects("group", src(body(1)), src(changed_src));
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("kp_group_sig"), std::string::npos)
	        << kp::test::joined(r);
}

TEST(DiffgenFixtures, ChangedInitDataIsRefused)
{
	auto body = [](int k) {
		return "__attribute__((section(\".init.data\"))) int boot_value = " +
		       std::to_string(k) + ";\nint reader(void) { return 7; }\n";
	};
	auto p = make_pair_objects("initdata", src(body(1)), src(body(2)));
	auto r = diff(p);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("__init data"), std::string::npos)
	        << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("boot_value"), std::string::npos) << kp::test::joined(r);
}

TEST(DiffgenFixtures, OpsTableWithLineNumberedBtfIdIsUnchanged)
{
	// net/core/sock_map.c between Debian 6.1.187-1 and 6.1.190-1: one line added inside
	// sock_map_alloc() shifts __LINE__ in the name of the BTF ID that sock_map_ops points
	// at (BTF_ID_LIST_SINGLE, include/linux/btf_ids.h); the table itself is unchanged.
	auto body = [](const std::string &extra_line) {
		return R"(
#define ___PASTE(a, b) a##b
#define __PASTE(a, b) ___PASTE(a, b)
#define __ID(prefix) __PASTE(__PASTE(prefix, __COUNTER__), __LINE__)
#define ____BTF_ID(symbol) asm(".pushsection .BTF_ids,\"a\";\n.local " #symbol ";\n" \
	".type " #symbol ", STT_OBJECT;\n.size " #symbol ", 4;\n" #symbol ":\n.zero 4\n" \
	".popsection;\n");
#define __BTF_ID(symbol) ____BTF_ID(symbol)
#define BTF_ID(prefix, name) __BTF_ID(__ID(__BTF_ID__##prefix##__##name##__))
#define BTF_ID_LIST(name) asm(".pushsection .BTF_ids,\"a\";\n.local " #name ";\n" \
	#name ":;\n.popsection;\n"); extern unsigned int name[];
#define BTF_ID_LIST_SINGLE(name, prefix, typename) BTF_ID_LIST(name) BTF_ID(prefix, typename)
struct map_ops { int (*alloc)(int); int (*free)(int); unsigned int *btf_id; };
static int stab_alloc(int n)
{
	if (n == 0 ||
)" + extra_line + R"(	    n == 3)
		return -22;
	return exported_thing(n);
}
static int stab_free(int n) { return exported_thing(-n); }
BTF_ID_LIST_SINGLE(stab_btf_ids, struct, bpf_stab)
const struct map_ops stab_ops = {
	.alloc = stab_alloc, .free = stab_free, .btf_id = &stab_btf_ids[0],
};
)";
	};
	auto p = make_pair_objects("btfid-line", src(body("")), src(body("\t    n > 100 ||\n")));
	auto r = diff(p);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = read_output(p.out);
	EXPECT_EQ(func_rec_names(o), Set({"stab_alloc"}));
	EXPECT_EQ(o.defined_objects, Set()) << "the table and the BTF ID are the running ones";
}

TEST(DiffgenFixtures, MacroNumberedNamesLoseTheirNumbers)
{
	using kp::diffgen::canonical_name;
	EXPECT_EQ(canonical_name("__BTF_ID__struct__bpf_stab__0815"),
	          canonical_name("__BTF_ID__struct__bpf_stab__0816"));
	EXPECT_EQ(canonical_name("__BTF_ID__struct__bpf_stab__0815"),
	          "__BTF_ID__struct__bpf_stab__");
	EXPECT_EQ(canonical_name("__BTF_ID__func__sha2__12"), "__BTF_ID__func__sha2__");
	EXPECT_EQ(canonical_name("__initcall__kmod_sock_map__745_1700_sock_map_init6"),
	          "__initcall__kmod_sock_map__sock_map_init6");
	EXPECT_EQ(canonical_name("__initstub__kmod_a__b__3_4_a_init4"),
	          "__initstub__kmod_a__b__a_init4");
	EXPECT_EQ(canonical_name("__UNIQUE_ID_ddebug412"), "__UNIQUE_ID_ddebug");
	// Not macro-numbered: kept.
	EXPECT_EQ(canonical_name("__BTF_ID__struct__sock"), "__BTF_ID__struct__sock");
	EXPECT_EQ(canonical_name("__initcall__kmod_x__init6"), "__initcall__kmod_x__init6");
	EXPECT_EQ(canonical_name("count.123"), "count");
}
