// The sealed-ENDBR gate against a fake IBT kernel image linked here: its functions start
// with ENDBR64 except one written without it, and its .ibt_endbr_seal lists one (as objtool
// does for a function the image never takes the address of).  A patch may call any of
// them and take the address of the open one; taking the address of the sealed one or of
// the ENDBR-less one, from code or from data, is refused, naming the user and the
// function, and no output is written.
#include <cstddef>
#include <filesystem>
#include <map>

#include "helpers.h"
#include "kp/abi.h"
#include "ksym/symbols.h"

namespace {

using Endbr = kp::ksym::SymbolTable::Endbr;

const char *kKernel = R"C(
void __fentry__(void) {}
const int __ksymtab___fentry__ = 0;
void __x86_return_thunk(void) {}
const int __ksymtab___x86_return_thunk = 0;
asm(".text\n"
    ".globl open_fn\n.type open_fn, @function\nopen_fn: endbr64\nret\n.size open_fn, .-open_fn\n"
    ".globl sealed_fn\n.type sealed_fn, @function\nsealed_fn: endbr64\nret\n"
    ".size sealed_fn, .-sealed_fn\n"
    ".globl bare_fn\n.type bare_fn, @function\nbare_fn: nop\nret\n.size bare_fn, .-bare_fn\n"
    ".pushsection .ibt_endbr_seal, \"a\"\n.long sealed_fn - .\n.popsection\n");
void _start(void) {}
)C";

const char *kOrig = R"C(
extern void open_fn(void);
extern void sealed_fn(void);
extern void bare_fn(void);
void (*volatile hook)(void);
void user(void) { open_fn(); }
)C";

struct Kernel {
	std::filesystem::path dir;
	std::string vmlinux;
};

Kernel fake_ibt_kernel(const std::string &name)
{
	Kernel k{kp::test::scratch_dir(name), ""};
	std::string a = kp::test::compile(k.dir, "a", kKernel);
	std::string b = kp::test::compile(k.dir, "b", kOrig);
	k.vmlinux = (k.dir / "vmlinux").string();
	EXPECT_EQ(kp::test::run_command("ld -static -e _start -o " + k.vmlinux + " " + a + " " + b),
	          0);
	return k;
}

// diffgen on b.c changed to @body (the new body of user()), @extra put before it.
kp::diffgen::Result patch(const Kernel &k, const std::string &tag, const std::string &body,
                          const std::string &extra = "")
{
	std::string src = kOrig;
	src.replace(src.find("{ open_fn(); }"), 14, "{ " + body + " }");
	std::filesystem::create_directories(k.dir / tag / "orig");
	std::filesystem::create_directories(k.dir / tag / "patched");
	std::string orig = kp::test::compile(k.dir / tag / "orig", "b", kOrig);
	std::string patched = kp::test::compile(k.dir / tag / "patched", "b", extra + src);
	kp::diffgen::Options opts;
	opts.symbols = k.vmlinux;
	return kp::diffgen::run(orig, patched, (k.dir / tag / "out.o").string(), opts);
}

} // namespace

TEST(SealedEndbr, TheImageTellsSealedPresentAndMissing)
{
	Kernel k = fake_ibt_kernel("endbr-state");
	auto t = kp::ksym::SymbolTable::open(k.vmlinux);
	ASSERT_TRUE(t) << t.error().message();
	EXPECT_TRUE((*t)->has_seal_list());
	auto state = [&](const char *name) { return (*t)->endbr(**(*t)->lookup(name, 0)); };
	EXPECT_EQ(state("open_fn"), Endbr::present);
	EXPECT_EQ(state("sealed_fn"), Endbr::sealed);
	EXPECT_EQ(state("bare_fn"), Endbr::missing);
}

TEST(SealedEndbr, CallsAndOpenAddressesPass)
{
	Kernel k = fake_ibt_kernel("endbr-pass");
	auto r = patch(k, "calls", "sealed_fn(); bare_fn(); hook = open_fn;");
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	// One kp_addrs record, for open_fn (user): the core checks its live ENDBR.
	auto out = kp::test::load_object((k.dir / "calls" / "out.o").string());
	const kp::elf::Section *addrs = out->section(KP_SEC_ADDRS);
	ASSERT_NE(addrs, nullptr);
	ASSERT_EQ(addrs->size(), sizeof(kp_addr_rec));
	std::map<uint64_t, std::string> strings; // field offset -> string
	for (const auto &rel : addrs->relocs)
		if (auto s = rel.sym->sec->string_at(static_cast<uint64_t>(rel.addend)))
			strings[rel.offset] = std::string(*s);
	EXPECT_EQ(strings[offsetof(kp_addr_rec, name)], "open_fn");
	EXPECT_EQ(strings[offsetof(kp_addr_rec, user)], "user");
}

TEST(SealedEndbr, AddressOfSealedFunctionIsRefused)
{
	Kernel k = fake_ibt_kernel("endbr-sealed");
	auto r = patch(k, "sealed", "hook = sealed_fn;");
	ASSERT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("user takes the address of sealed_fn, whose ENDBR"),
	          std::string::npos)
	        << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("#CP"), std::string::npos) << kp::test::joined(r);
	EXPECT_FALSE(std::filesystem::exists(k.dir / "sealed" / "out.o"));
}

TEST(SealedEndbr, AddressOfFunctionWithoutEndbrIsRefused)
{
	Kernel k = fake_ibt_kernel("endbr-bare");
	auto r = patch(k, "bare", "hook = bare_fn;");
	ASSERT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("user takes the address of bare_fn, which has no ENDBR"),
	          std::string::npos)
	        << kp::test::joined(r);
}

TEST(SealedEndbr, SealedFunctionInNewDataIsRefused)
{
	Kernel k = fake_ibt_kernel("endbr-data");
	auto r = patch(k, "data", "table[0]();",
	               "extern void sealed_fn(void);\nvoid (*table[])(void) = { sealed_fn };\n");
	ASSERT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("takes the address of sealed_fn"), std::string::npos)
	        << kp::test::joined(r);
}
