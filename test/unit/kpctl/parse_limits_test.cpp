// read_module on crafted, untrusted input: no undefined behaviour on extreme values,
// and work that grows with the size of the file, not with records x symbols or
// records x section size.  Bounds are checked on operation counts (comparisons,
// bytes allocated), not on time.
#include <gtest/gtest.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <new>

#include "crafted_module.h"
#include "errors.h"
#include "fixtures.h"
#include "module_file.h"
#include "records/symbol_index.h"

using namespace kp::ctl::test;
using kp::ctl::Exit;
using kp::ctl::ModuleInfo;
using kp::ctl::Pointer;

// Every allocation of this test program is counted (bytes requested).  These
// replacements pair malloc with free, which GCC cannot see through.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<size_t> allocated_bytes{0};

void *operator new(size_t n)
{
	allocated_bytes += n;
	if (void *p = std::malloc(n ? n : 1))
		return p;
	throw std::bad_alloc();
}

void *operator new[](size_t n)
{
	return operator new(n);
}

void operator delete(void *p) noexcept
{
	std::free(p);
}

void operator delete[](void *p) noexcept
{
	std::free(p);
}

void operator delete(void *p, size_t) noexcept
{
	std::free(p);
}

void operator delete[](void *p, size_t) noexcept
{
	std::free(p);
}

namespace {

fs::path write_crafted(const std::string &name, const CraftedModule &spec)
{
	fs::path p = scratch_dir(name) / "kp_crafted.ko";
	write_file(p, crafted_module(spec));
	return p;
}

// A symbol table of @n symbols is built by adding them in order.
struct Symtab {
	std::vector<std::unique_ptr<kp::elf::Symbol>> syms;
	kp::elf::Section sections[8];

	size_t add(size_t shndx, uint64_t value, int type = STT_FUNC, const char *name = "s")
	{
		auto s = std::make_unique<kp::elf::Symbol>();
		s->index = syms.size();
		s->name = name;
		s->type = static_cast<unsigned char>(type);
		s->bind = STB_GLOBAL;
		s->shndx = static_cast<uint32_t>(shndx);
		s->sec = &sections[shndx];
		s->value = value;
		syms.push_back(std::move(s));
		return syms.size() - 1;
	}
	// The index of @s in the table, or SIZE_MAX for none.
	size_t at(const kp::elf::Symbol *s) const { return s ? s->index : SIZE_MAX; }
};

} // namespace

TEST(ParseLimits, NegativeOffsetsDescribeWithoutOverflow)
{
	Pointer p;
	p.kind = Pointer::Kind::external;
	p.symbol = "s";
	p.offset = INT64_MIN; // -INT64_MIN overflows: undefined behaviour before
	EXPECT_EQ(p.describe(), "s-0x8000000000000000");
	p.offset = INT64_MIN + 1;
	EXPECT_EQ(p.describe(), "s-0x7fffffffffffffff");
	p.offset = INT64_MAX;
	EXPECT_EQ(p.describe(), "s+0x7fffffffffffffff");
}

TEST(ParseLimits, Int64MinAddendInAModule)
{
	CraftedModule spec;
	spec.addend = INT64_MIN;
	ModuleInfo m = kp::ctl::read_module(write_crafted("int64min", spec).string());
	ASSERT_EQ(m.funcs.size(), 1u);
	// .text + 0 + INT64_MIN, as an unsigned offset, is past func_0: func_0 + 2^63,
	// which as a signed distance is INT64_MIN.
	EXPECT_EQ(m.funcs[0].new_func.describe(), "func_0-0x8000000000000000");
}

TEST(ParseLimits, CraftedModuleReadsBack)
{
	CraftedModule spec;
	spec.records = 5;
	spec.symbols = 7;
	ModuleInfo m = kp::ctl::read_module(write_crafted("small", spec).string());
	EXPECT_EQ(m.name, "kp_crafted");
	ASSERT_EQ(m.funcs.size(), 5u);
	for (size_t i = 0; i < 5; i++) {
		EXPECT_EQ(m.funcs[i].object, "vmlinux");
		EXPECT_EQ(m.funcs[i].function, "f" + std::to_string(i));
		EXPECT_EQ(m.funcs[i].new_func.describe(), "func_" + std::to_string(i) + "+0x3");
	}
}

TEST(ParseLimits, OverlongStringIsRefused)
{
	CraftedModule spec;
	spec.string_section = 4096;
	std::string bytes = crafted_module(spec);
	// Turn "vmlinux\0f0\0" and the zeros after it into one 600-byte string.
	size_t at = bytes.find(std::string("vmlinux\0f0\0", 11));
	ASSERT_NE(at, std::string::npos);
	bytes.replace(at, 600, std::string(600, 'x'));
	fs::path p = scratch_dir("overlong") / "kp_crafted.ko";
	write_file(p, bytes);
	try {
		kp::ctl::read_module(p.string());
		ADD_FAILURE() << "an overlong name was accepted";
	} catch (const kp::ctl::Error &e) {
		EXPECT_EQ(e.code(), Exit::not_kp_patch);
		EXPECT_NE(std::string(e.what()).find("longer than 511 bytes"), std::string::npos)
		        << e.what();
	}
}

// Before: each string was read by copying its whole section (records x section size,
// here 2 x 20000 x 8 MiB = 320 GB copied) and each pointer scanned every symbol.
TEST(ParseLimits, ManyRecordsIntoALargeSectionStayLinear)
{
	CraftedModule spec;
	spec.records = 20000;
	spec.symbols = 20000;
	spec.string_section = 8 << 20;
	std::string bytes = crafted_module(spec);
	fs::path p = scratch_dir("large") / "kp_crafted.ko";
	write_file(p, bytes);
	size_t before = allocated_bytes;
	ModuleInfo m = kp::ctl::read_module(p.string());
	size_t used = allocated_bytes - before;
	ASSERT_EQ(m.funcs.size(), spec.records);
	EXPECT_EQ(m.funcs.back().function, "f19999");
	EXPECT_EQ(m.funcs.back().new_func.describe(), "func_19999+0x3");
	// The file once, plus per record a few small strings and map nodes.
	EXPECT_LT(used, 2 * bytes.size() + spec.records * 1024) << used << " bytes allocated";
}

TEST(ParseLimits, SymbolLookupsAreLogarithmic)
{
	const size_t n = 100000;
	Symtab t;
	for (size_t i = 0; i < n; i++)
		t.add(5, 16 * (n - 1 - i)); // in descending address order
	kp::records::SymbolIndex index(t.syms);
	size_t probes = 0;
	for (size_t i = 0; i < n; i++) {
		auto s = index.nearest(&t.sections[5], 16 * i + 7, &probes);
		ASSERT_TRUE(s);
		ASSERT_EQ(s->value, 16 * i);
	}
	// A binary search makes at most log2(n) + 1 = 17 comparisons; a scan, n.
	EXPECT_LE(probes, n * 18);
}

TEST(ParseLimits, SymbolIndexPicksAsTheScanDid)
{
	Symtab t;
	t.add(0, 0, STT_NOTYPE, "");  // 0: the null symbol
	t.add(2, 0x10, STT_OBJECT);   // 1
	t.add(2, 0x10, STT_NOTYPE);   // 2
	t.add(2, 0x20, STT_NOTYPE);   // 3
	t.add(2, 0x20, STT_FUNC);     // 4
	t.add(2, 0x20, STT_FUNC);     // 5: the last function at 0x20
	t.add(2, 0x30, STT_SECTION);  // never
	t.add(3, 0x0, STT_FUNC);      // 7: another section
	t.add(2, 0x28, STT_FUNC, ""); // unnamed: never
	t.syms[0]->sec = nullptr;
	kp::records::SymbolIndex index(t.syms);
	EXPECT_FALSE(index.nearest(&t.sections[2], 0x0f));
	EXPECT_EQ(t.at(index.nearest(&t.sections[2], 0x10)), 1u); // no function: the first
	EXPECT_EQ(t.at(index.nearest(&t.sections[2], 0x1f)), 1u);
	EXPECT_EQ(t.at(index.nearest(&t.sections[2], 0x20)), 5u);
	EXPECT_EQ(t.at(index.nearest(&t.sections[2], 0x3f)), 5u);
	EXPECT_EQ(t.at(index.nearest(&t.sections[3], 0x100)), 7u);
	EXPECT_FALSE(index.nearest(&t.sections[4], 0x100));
}
