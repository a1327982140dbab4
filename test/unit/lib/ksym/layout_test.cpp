// lib/ksym layout.h: where the module loader of 6.1 puts each section (layout_sections:
// code, read-only data, read-only after init, writable data; header order within a pass,
// each aligned), and which sections' symbols kallsyms keeps.
#include <gtest/gtest.h>

#include "ksym/layout.h"
#include "objects.h"

using kp::elf::Writer;
using kp::kit::TempDir;
using namespace kp::libtest;

namespace {

constexpr uint64_t kRoAfterInit = 0x00200000; // SHF_RO_AFTER_INIT

struct Layout {
	std::unique_ptr<kp::elf::Object> ko;
	std::vector<std::optional<uint64_t>> at;
	std::optional<uint64_t> of(const std::string &name) const
	{
		return at.at(ko->section(name)->index);
	}
};

// Sections in an order that differs from the layout's: the passes must reorder them.
Layout sample(const TempDir &d)
{
	Writer w;
	auto sec = [&](const char *name, uint64_t flags, uint64_t align, size_t size) {
		w.add_section(name, SHT_PROGBITS, flags, align, 0, std::vector<uint8_t>(size));
	};
	sec(".data", kData, 8, 4);
	sec(".text", kText, 16, 5);
	sec(".init.text", kText, 16, 8);
	sec(".rodata", SHF_ALLOC, 8, 3);
	sec(".data..ro_after_init", kData | kRoAfterInit, 8, 8);
	sec(".text.unlikely", kText, 4, 2);
	sec(".data..percpu", kData, 64, 8);
	sec(".comment", 0, 1, 10);
	Layout l;
	l.ko = write_and_read(w, d, "m.ko");
	if (l.ko)
		l.at = kp::ksym::module_core_layout(*l.ko);
	return l;
}

} // namespace

TEST(ModuleLayout, CodeThenReadOnlyThenRoAfterInitThenData)
{
	TempDir d;
	Layout l = sample(d);
	ASSERT_TRUE(l.ko);
	ASSERT_EQ(l.at.size(), l.ko->sections().size());
	EXPECT_EQ(l.of(".text"), 0u);
	EXPECT_EQ(l.of(".text.unlikely"), 8u); // after .text's 5 bytes, aligned to 4
	EXPECT_EQ(l.of(".rodata"), 16u);       // 10 aligned to 8
	EXPECT_EQ(l.of(".data..ro_after_init"), 24u);
	EXPECT_EQ(l.of(".data"), 32u);
}

TEST(ModuleLayout, InitPercpuAndUnallocatedSectionsAreNotInTheCore)
{
	TempDir d;
	Layout l = sample(d);
	ASSERT_TRUE(l.ko);
	EXPECT_EQ(l.of(".init.text"), std::nullopt);
	EXPECT_EQ(l.of(".data..percpu"), std::nullopt);
	EXPECT_EQ(l.of(".comment"), std::nullopt);
	EXPECT_EQ(l.of(".symtab"), std::nullopt);
	EXPECT_EQ(l.at[0], std::nullopt);
}

TEST(ModuleLayout, KallsymsKeepsCoreAndPercpuSymbols)
{
	TempDir d;
	Layout l = sample(d);
	ASSERT_TRUE(l.ko);
	auto keeps = [&](const char *n) {
		return kp::ksym::module_keeps_symbols_of(*l.ko->section(n));
	};
	EXPECT_TRUE(keeps(".text"));
	EXPECT_TRUE(keeps(".data"));
	EXPECT_TRUE(keeps(".data..percpu"));
	EXPECT_FALSE(keeps(".init.text"));
	EXPECT_FALSE(keeps(".comment"));
}
