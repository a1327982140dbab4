// lib/ksym endbr.cpp on a module: objtool's .ibt_endbr_seal entries are R_X86_64_PC32
// relocations (symbol + addend = the sealed ENDBR); a function starting with ENDBR64 and
// not listed is open, one without it is missing; a module with no seal list tells nothing
// about a function without ENDBR.
#include <gtest/gtest.h>

#include "ksym/symbols.h"
#include "objects.h"

using kp::elf::Writer;
using kp::kit::TempDir;
using kp::ksym::SymbolTable;
using Endbr = kp::ksym::SymbolTable::Endbr;
using namespace kp::libtest;

namespace {

// .text: open_fn (ENDBR64; ret) at 0, bare_fn (nop; ret) at 5, sealed_fn (ENDBR64; ret)
// at 7; the seal list, when @sealed, names sealed_fn through .text's section symbol.
std::unique_ptr<SymbolTable> module(const TempDir &d, bool sealed)
{
	Writer w;
	std::vector<uint8_t> text = {0xf3, 0x0f, 0x1e, 0xfa, 0xc3, 0x90,
	                             0xc3, 0xf3, 0x0f, 0x1e, 0xfa, 0xc3};
	size_t t = w.add_section(".text", SHT_PROGBITS, kText, 16, 0, text);
	w.add_symbol("open_fn", STT_FUNC, STB_GLOBAL, t, 0, 5);
	w.add_symbol("bare_fn", STT_FUNC, STB_GLOBAL, t, 5, 2);
	w.add_symbol("sealed_fn", STT_FUNC, STB_LOCAL, t, 7, 5);
	if (sealed) {
		size_t seal = w.add_section(".ibt_endbr_seal", SHT_PROGBITS, SHF_ALLOC, 1, 0,
		                            std::vector<uint8_t>(4));
		w.add_reloc(seal, 0, R_X86_64_PC32, w.section_symbol(t), 7);
	}
	auto o = write_and_read(w, d, "m.ko", {.relocatable_only = false, .relocations = false});
	if (!o)
		return nullptr;
	auto st = SymbolTable::from(std::move(o));
	if (!st) {
		ADD_FAILURE() << st.error().message();
		return nullptr;
	}
	return std::move(*st);
}

Endbr state(const SymbolTable &t, const char *name)
{
	auto k = t.lookup(name, 0);
	EXPECT_TRUE(k) << name;
	return k ? t.endbr(**k) : Endbr::unknown;
}

} // namespace

TEST(ModuleEndbr, SealListFromRelocations)
{
	TempDir d;
	auto t = module(d, true);
	ASSERT_TRUE(t);
	EXPECT_TRUE(t->has_seal_list());
	EXPECT_EQ(state(*t, "open_fn"), Endbr::present);
	EXPECT_EQ(state(*t, "bare_fn"), Endbr::missing);
	EXPECT_EQ(state(*t, "sealed_fn"), Endbr::sealed);
}

TEST(ModuleEndbr, NoSealListTellsNothingOfAFunctionWithoutEndbr)
{
	TempDir d;
	auto t = module(d, false);
	ASSERT_TRUE(t);
	EXPECT_FALSE(t->has_seal_list());
	EXPECT_EQ(state(*t, "open_fn"), Endbr::present);
	EXPECT_EQ(state(*t, "bare_fn"), Endbr::unknown);
	EXPECT_EQ(state(*t, "sealed_fn"), Endbr::present);
}
