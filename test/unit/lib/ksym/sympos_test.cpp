// lib/ksym symbols.h on a module: the one sympos rule (0 when the name is unique, else the
// 1-based position in ADDRESS order, the loader's layout, not symbol-table order),
// lookup by name and sympos, exports and anchors.
#include <gtest/gtest.h>

#include "ksym/symbols.h"
#include "objects.h"

using kp::ErrorKind;
using kp::elf::Writer;
using kp::kit::TempDir;
using kp::ksym::SymbolTable;
using namespace kp::libtest;

namespace {

// Three static `dup`s: in .text.b (first in the symbol table), in .text.a (first in
// address order), in .data (last); one in .init.text that kallsyms drops; `solo` once,
// exported; `helper` 8 bytes after it.
std::unique_ptr<SymbolTable> sample(const TempDir &d)
{
	Writer w;
	size_t a = w.add_section(".text.a", SHT_PROGBITS, kText, 16, 0, std::vector<uint8_t>(32));
	size_t b = w.add_section(".text.b", SHT_PROGBITS, kText, 16, 0, std::vector<uint8_t>(16));
	size_t init =
	        w.add_section(".init.text", SHT_PROGBITS, kText, 16, 0, std::vector<uint8_t>(16));
	size_t data = w.add_section(".data", SHT_PROGBITS, kData, 8, 0, std::vector<uint8_t>(8));
	size_t ksymtab = w.add_section("___ksymtab+solo", SHT_PROGBITS, SHF_ALLOC, 4, 0,
	                               std::vector<uint8_t>(12));
	w.add_symbol("m.c", STT_FILE, STB_LOCAL, SHN_ABS, 0, 0);
	w.add_symbol("dup", STT_FUNC, STB_LOCAL, b, 0, 16);
	w.add_symbol("dup", STT_FUNC, STB_LOCAL, a, 16, 16);
	w.add_symbol("dup", STT_FUNC, STB_LOCAL, init, 0, 16);
	w.add_symbol("dup", STT_OBJECT, STB_LOCAL, data, 0, 8);
	w.add_symbol("helper", STT_FUNC, STB_LOCAL, a, 8, 8);
	w.add_symbol("solo", STT_FUNC, STB_GLOBAL, a, 0, 8);
	w.add_symbol("__ksymtab_solo", STT_OBJECT, STB_GLOBAL, ksymtab, 0, 12);
	auto o = write_and_read(w, d, "m.ko", {.relocatable_only = false, .relocations = false});
	if (!o)
		return nullptr;
	auto t = SymbolTable::from(std::move(o));
	if (!t) {
		ADD_FAILURE() << t.error().message();
		return nullptr;
	}
	return std::move(*t);
}

} // namespace

TEST(Sympos, AddressOrderNotSymbolTableOrder)
{
	TempDir d;
	auto t = sample(d);
	ASSERT_TRUE(t);
	EXPECT_TRUE(t->is_module());
	auto dups = t->named("dup");
	ASSERT_EQ(dups.size(), 3u) << "the .init.text one is not kept by kallsyms";
	EXPECT_EQ(dups[0]->sym->sec->name, ".text.a");
	EXPECT_EQ(dups[1]->sym->sec->name, ".text.b");
	EXPECT_EQ(dups[2]->sym->sec->name, ".data");
	EXPECT_LT(dups[0]->addr, dups[1]->addr);
	EXPECT_LT(dups[1]->addr, dups[2]->addr);
	EXPECT_EQ(t->sympos(*dups[0]), 1u);
	EXPECT_EQ(t->sympos(*dups[1]), 2u);
	EXPECT_EQ(t->sympos(*dups[2]), 3u);
	ASSERT_EQ(t->named("solo").size(), 1u);
	EXPECT_EQ(t->sympos(*t->named("solo")[0]), 0u);
	EXPECT_TRUE(t->named("nothing").empty());
}

TEST(Sympos, LookupResolvesAsTheCoreDoes)
{
	TempDir d;
	auto t = sample(d);
	ASSERT_TRUE(t);
	auto second = t->lookup("dup", 2);
	ASSERT_TRUE(second) << second.error().message();
	EXPECT_EQ((*second)->sym->sec->name, ".text.b");
	auto solo = t->lookup("solo", 0);
	ASSERT_TRUE(solo) << solo.error().message();
	EXPECT_EQ((*solo)->name(), "solo");
	auto ambiguous = t->lookup("dup", 0);
	ASSERT_FALSE(ambiguous);
	EXPECT_EQ(ambiguous.error().kind(), ErrorKind::lookup);
	auto past = t->lookup("dup", 4);
	ASSERT_FALSE(past);
	EXPECT_EQ(past.error().kind(), ErrorKind::lookup);
	auto missing = t->lookup("nothing", 0);
	ASSERT_FALSE(missing);
	EXPECT_EQ(missing.error().kind(), ErrorKind::lookup);
}

TEST(Sympos, ExportsAndAnchors)
{
	TempDir d;
	auto t = sample(d);
	ASSERT_TRUE(t);
	EXPECT_TRUE(t->exported("solo"));
	EXPECT_FALSE(t->exported("helper"));
	auto helper = t->lookup("helper", 0);
	ASSERT_TRUE(helper) << helper.error().message();
	auto anchor = t->anchor_for(**helper);
	ASSERT_TRUE(anchor) << anchor.error().message();
	EXPECT_EQ(anchor->name, "solo");
	EXPECT_EQ(anchor->delta, 8);
}
