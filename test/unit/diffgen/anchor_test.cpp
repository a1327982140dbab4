// diffgen --anchor against a fake kernel image linked here: the real output object,
// linked the way the module loader resolves it (the image's symbols as absolute), must
// call and point at the non-exported symbols' addresses, a duplicated local resolved by
// the one sympos rule (address order).  Replaces kp-build's resolve stage test, which
// rewrote a hand-made imitation of diffgen's output.
#include <capstone/capstone.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "elf/object.h"
#include "helpers.h"
#include "ksym/symbols.h"
#include "records/patch_records.h"

namespace {

// Linked first, so its dup_fn is the first in address order.
const char *kKernelA = R"C(
void __fentry__(void) {}
const int __ksymtab___fentry__ = 0;
void __x86_return_thunk(void) {}
const int __ksymtab___x86_return_thunk = 0;
void anchor_fn(void) {}
const int __ksymtab_anchor_fn = 0;
static void __attribute__((noinline, used)) dup_fn(void) { asm volatile("nop; nop"); }
void __attribute__((noinline)) hidden_fn(void) { asm volatile("nop"); }
void _start(void) { dup_fn(); hidden_fn(); anchor_fn(); }
__attribute__((section(".data..percpu"))) int pcpu_anchor = 3;
const int __ksymtab_pcpu_anchor = 0;
__attribute__((section(".data..percpu"))) int pcpu_hidden = 4;
)C";

// The object the patch changes: its own static dup_fn is the second in address order.
const char *kOrigB = R"C(
extern void hidden_fn(void);
extern void anchor_fn(void);
static void __attribute__((noinline, used)) dup_fn(void) { asm volatile("nop; nop; nop"); }
void call_dup_b(void) { dup_fn(); }
)C";
const char *kPatchedB = R"C(
extern void hidden_fn(void);
extern void anchor_fn(void);
static void __attribute__((noinline, used)) dup_fn(void) { asm volatile("nop; nop; nop"); }
void call_dup_b(void) { dup_fn(); hidden_fn(); anchor_fn(); }
)C";

struct FakeKernel {
	std::filesystem::path dir;
	std::string vmlinux;
	std::unique_ptr<kp::ksym::SymbolTable> syms;
};

FakeKernel fake_kernel(const std::string &name)
{
	FakeKernel k;
	k.dir = kp::test::scratch_dir(name);
	std::string a = kp::test::compile(k.dir, "a", kKernelA);
	std::string b = kp::test::compile(k.dir, "b", kOrigB);
	k.vmlinux = (k.dir / "vmlinux").string();
	EXPECT_EQ(
	        kp::test::run_command("ld -static -e _start --build-id --unique=.data..percpu -o " +
	                              k.vmlinux + " " + a + " " + b),
	        0);
	auto t = kp::ksym::SymbolTable::open(k.vmlinux);
	EXPECT_TRUE(t) << (t ? "" : t.error().message());
	if (t)
		k.syms = std::move(t).value();
	return k;
}

std::filesystem::path subdir(const FakeKernel &k, const std::string &name)
{
	std::filesystem::create_directories(k.dir / name);
	return k.dir / name;
}

uint64_t address_of(const kp::ksym::SymbolTable &t, const std::string &name, uint64_t sympos)
{
	auto k = t.lookup(name, sympos);
	return k ? (*k)->addr : 0;
}

// Direct call and jump targets in the .text of the linked image @path (the patch's code
// only: the image's own symbols are absolute there).
std::vector<uint64_t> branch_targets(const std::string &path)
{
	auto obj = kp::elf::Object::open(path, {.relocatable_only = false, .relocations = false});
	EXPECT_TRUE(obj);
	const kp::elf::Section *text = obj ? (*obj)->section(".text") : nullptr;
	EXPECT_NE(text, nullptr);
	if (!text)
		return {};
	csh h;
	EXPECT_EQ(cs_open(CS_ARCH_X86, CS_MODE_64, &h), CS_ERR_OK);
	cs_insn *insn;
	size_t n = cs_disasm(h, text->data.data(), text->data.size(), text->shdr.sh_addr, 0, &insn);
	std::vector<uint64_t> out;
	for (size_t i = 0; i < n; i++) {
		std::string m = insn[i].mnemonic;
		if ((m == "call" || m == "jmp") && std::strncmp(insn[i].op_str, "0x", 2) == 0)
			out.push_back(std::strtoull(insn[i].op_str, nullptr, 16));
	}
	cs_free(insn, n);
	cs_close(&h);
	return out;
}

} // namespace

TEST(DiffgenAnchor, KernelSymbolsLookupSymposAndAnchors)
{
	FakeKernel k = fake_kernel("anchor-lookup");
	ASSERT_TRUE(k.syms);
	auto dups = k.syms->named("dup_fn");
	ASSERT_EQ(dups.size(), 2u);
	EXPECT_LT(dups[0]->addr, dups[1]->addr);
	EXPECT_EQ(k.syms->sympos(*dups[1]), 2u);
	EXPECT_FALSE(k.syms->lookup("dup_fn", 0)) << "ambiguous without a position";
	EXPECT_FALSE(k.syms->lookup("dup_fn", 3));
	auto missing = k.syms->lookup("no_such_symbol", 0);
	ASSERT_FALSE(missing);
	EXPECT_NE(missing.error().message().find("no_such_symbol"), std::string::npos);
	EXPECT_TRUE(k.syms->exported("anchor_fn"));
	EXPECT_FALSE(k.syms->exported("hidden_fn"));
	auto pcpu = k.syms->lookup("pcpu_hidden", 0);
	ASSERT_TRUE(pcpu);
	EXPECT_TRUE((*pcpu)->percpu);
	EXPECT_EQ(k.syms->anchor_for(**pcpu)->name, "pcpu_anchor");
	auto hidden = k.syms->lookup("hidden_fn", 0);
	ASSERT_TRUE(hidden);
	auto a = k.syms->anchor_for(**hidden);
	ASSERT_TRUE(a);
	EXPECT_NE(a->name, "pcpu_anchor");
	EXPECT_EQ(a->addr + static_cast<uint64_t>(a->delta), (*hidden)->addr);
	EXPECT_FALSE(k.syms->object().build_id().empty());
	// A name the patch defines itself is never the anchor (the loader would bind the
	// reference to the patch's own copy): the next nearest export serves instead.
	auto other = k.syms->anchor_for(**hidden,
	                                [&](std::string_view name) { return name != a->name; });
	ASSERT_TRUE(other);
	EXPECT_NE(other->name, a->name);
	EXPECT_EQ(other->addr + static_cast<uint64_t>(other->delta), (*hidden)->addr);
	EXPECT_FALSE(k.syms->anchor_for(**hidden, [](std::string_view) { return false; }));
}

TEST(DiffgenAnchor, AnchoredOutputLinksToTheHiddenAddresses)
{
	FakeKernel k = fake_kernel("anchor-link");
	ASSERT_TRUE(k.syms);
	// Named b.c as in the image: its STT_FILE picks the image's b.c locals.
	std::string orig = kp::test::compile(subdir(k, "orig"), "b", kOrigB);
	std::string patched = kp::test::compile(subdir(k, "patched"), "b", kPatchedB);
	std::string out = (k.dir / "out.o").string();
	kp::diffgen::Options opts;
	opts.symbols = k.vmlinux;
	opts.anchor = true;
	auto r = kp::diffgen::run(orig, patched, out, opts);
	ASSERT_EQ(r.failure, std::nullopt) << (r.messages.empty() ? "" : r.messages.front());
	EXPECT_EQ(r.anchored.size(), 2u) << "hidden_fn and the object's own dup_fn";

	// The records name the symbols by sympos; nothing non-exported is left undefined.
	auto obj = kp::test::load_object(out);
	auto recs = kp::records::read_patch_records(*obj);
	ASSERT_TRUE(recs);
	std::map<std::string, uint64_t> sympos;
	for (const auto &s : recs->syms) {
		sympos[s.symbol] = s.sympos;
		EXPECT_TRUE(k.syms->exported(s.expected.symbol))
		        << s.symbol << " -> " << s.expected.describe();
	}
	EXPECT_EQ(sympos.at("hidden_fn"), 0u);
	EXPECT_EQ(sympos.at("dup_fn"), 2u);
	for (const auto &s : obj->symbols()) {
		if (s->is_undefined() && !s->name.empty()) {
			EXPECT_TRUE(k.syms->exported(s->name)) << s->name << " left undefined";
		}
	}

	// Linked at an arbitrary address with the image's symbols as absolute, as the module
	// loader would: the calls land on hidden_fn, the second dup_fn and anchor_fn.
	std::string linked = (k.dir / "linked").string();
	ASSERT_EQ(kp::test::run_command("ld -o " + linked +
	                                " -e call_dup_b -Ttext=0x7000000 --just-symbols=" +
	                                k.vmlinux + " " + out),
	          0);
	auto targets = branch_targets(linked);
	auto has = [&](uint64_t a) {
		return std::find(targets.begin(), targets.end(), a) != targets.end();
	};
	EXPECT_TRUE(has(address_of(*k.syms, "hidden_fn", 0)));
	EXPECT_TRUE(has(address_of(*k.syms, "dup_fn", 2)));
	EXPECT_FALSE(has(address_of(*k.syms, "dup_fn", 1))) << "the other file's dup_fn";
	EXPECT_TRUE(has(address_of(*k.syms, "anchor_fn", 0)));
}

TEST(DiffgenAnchor, GlobalMissingFromTheImageStaysUndefinedForTheModuleCheck)
{
	FakeKernel k = fake_kernel("anchor-missing");
	std::string src = kPatchedB;
	src.replace(src.find("hidden_fn(); anchor_fn(); }"), 11, "gone_fn(); ");
	src.insert(0, "extern void gone_fn(void);\n");
	std::string orig = kp::test::compile(subdir(k, "orig"), "b", kOrigB);
	std::string patched = kp::test::compile(subdir(k, "patched"), "b", src);
	std::string out = (k.dir / "out.o").string();
	kp::diffgen::Options opts;
	opts.symbols = k.vmlinux;
	opts.anchor = true;
	auto r = kp::diffgen::run(orig, patched, out, opts);
	ASSERT_EQ(r.failure, std::nullopt);
	bool undefined = false;
	auto obj = kp::test::load_object(out);
	for (const auto &s : obj->symbols())
		undefined |= s->is_undefined() && s->name == "gone_fn";
	EXPECT_TRUE(undefined) << "kp-build's module check names it (not exported by vmlinux)";
}

// A module with two static dup() in two files, the first file's placed in a later
// section: symbol-table order and address order (the loader's layout) differ, and sympos
// follows address order, as the core counts.
TEST(KernelSymbols, ModuleSymposCountsInLoaderAddressOrder)
{
	auto dir = kp::test::scratch_dir("ksym-module");
	// As Kbuild builds a module: no -ffunction-sections, so one .text per file.
	auto compile = [&](const std::string &name, const char *src) {
		std::ofstream((dir / (name + ".c")).string()) << src;
		std::string o = (dir / (name + ".o")).string();
		EXPECT_EQ(kp::test::run_command("gcc -O2 -fno-pic -c -o " + o + " " +
		                                (dir / (name + ".c")).string()),
		          0);
		return o;
	};
	std::string m1 = compile("m1", R"C(
static int __attribute__((noinline, used, section(".text.late"))) dup(void) { return 1; }
int one(void) { return dup(); }
)C");
	std::string m2 = compile("m2", R"C(
static int __attribute__((noinline, used)) dup(void) { return 2; }
int two(void) { return dup(); }
)C");
	std::string ko = (dir / "mod.ko").string();
	ASSERT_EQ(kp::test::run_command("ld -r -o " + ko + " " + m1 + " " + m2), 0);
	auto t = kp::ksym::SymbolTable::open(ko);
	ASSERT_TRUE(t) << t.error().message();
	auto dups = (*t)->named("dup");
	ASSERT_EQ(dups.size(), 2u);
	// Address order: m2's (in .text) first; symbol-table order: m1's first.
	EXPECT_EQ(dups[0]->sym->sec->name, ".text");
	EXPECT_EQ(dups[1]->sym->sec->name, ".text.late");
	EXPECT_GT(dups[0]->sym->index, dups[1]->sym->index);
	auto o1 = kp::test::load_object(m1);
	auto o2 = kp::test::load_object(m2);
	const auto *k1 = (*t)->counterpart("dup", true, *o1);
	const auto *k2 = (*t)->counterpart("dup", true, *o2);
	ASSERT_TRUE(k1 && k2);
	EXPECT_EQ((*t)->sympos(*k1), 2u);
	EXPECT_EQ((*t)->sympos(*k2), 1u);
}
