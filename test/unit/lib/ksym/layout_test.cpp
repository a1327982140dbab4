// lib/ksym layout.h: where the module loader puts each section (layout_sections: code,
// read-only data, read-only after init, writable data; header order within a pass, each
// aligned; one allocation up to 6.3, one per kind since 6.4, told by vermagic), and which
// sections' symbols kallsyms keeps.
#include <gtest/gtest.h>

#include "ksym/layout.h"
#include "objects.h"

using kp::elf::Writer;
using kp::kit::TempDir;
using namespace kp::libtest;
using namespace std::literals;

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
// @vermagic: a .modinfo naming the kernel the module is for ("" for none).
Layout sample(const TempDir &d, const std::string &vermagic = "")
{
	Writer w;
	if (!vermagic.empty()) {
		std::string info = "license=GPL\0vermagic="s + vermagic + " SMP preempt\0"s;
		w.add_section(".modinfo", SHT_PROGBITS, SHF_ALLOC, 1, 0,
		              std::vector<uint8_t>(info.begin(), info.end()));
	}
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
	sec("__jump_table", kData, 8, 16); // the loader makes it read-only after init
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
	EXPECT_EQ(l.of("__jump_table"), 32u);
	EXPECT_EQ(l.of(".data"), 48u);
}

TEST(ModuleLayout, VermagicTellsTheLoader)
{
	TempDir d;
	EXPECT_EQ(kp::ksym::module_memory_of(*sample(d).ko), kp::ksym::ModuleMemory::one_core);
	EXPECT_EQ(kp::ksym::module_memory_of(*sample(d, "6.1.0-57-cloud-amd64").ko),
	          kp::ksym::ModuleMemory::one_core);
	EXPECT_EQ(kp::ksym::module_memory_of(*sample(d, "6.12.118+deb12-cloud-amd64").ko),
	          kp::ksym::ModuleMemory::per_kind);
	EXPECT_EQ(kp::ksym::module_memory_of(*sample(d, "6.4.0").ko),
	          kp::ksym::ModuleMemory::per_kind);
	EXPECT_EQ(kp::ksym::module_memory_of(*sample(d, "10.0.1").ko),
	          kp::ksym::ModuleMemory::per_kind);
}

// 6.4+: each kind of memory its own allocation, in mem[]'s order (text, data, rodata,
// ro_after_init), offsets counted within the kind.
TEST(ModuleLayout, SinceSixFourEachKindIsItsOwnAllocation)
{
	TempDir d;
	Layout l = sample(d, "6.12.118+deb12-cloud-amd64");
	ASSERT_TRUE(l.ko);
	using kp::ksym::kKindStride;
	EXPECT_EQ(l.of(".text"), 0u);
	EXPECT_EQ(l.of(".text.unlikely"), 8u);
	EXPECT_EQ(l.of(".data"), kKindStride);
	// .modinfo comes first in header order; .rodata follows it, aligned to 8.
	EXPECT_EQ(l.of(".modinfo"), 2 * kKindStride);
	EXPECT_EQ(l.of(".rodata"),
	          2 * kKindStride + (l.ko->section(".modinfo")->size() + 7) / 8 * 8);
	EXPECT_EQ(l.of(".data..ro_after_init"), 3 * kKindStride);
	EXPECT_EQ(l.of("__jump_table"), 3 * kKindStride + 8);
	EXPECT_EQ(l.of(".init.text"), std::nullopt);
	EXPECT_EQ(l.of(".data..percpu"), std::nullopt);
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
