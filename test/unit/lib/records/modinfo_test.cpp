// lib/records modinfo.h: .modinfo's key=value strings in file order, and the name in
// struct module (.gnu.linkonce.this_module), as the module loader finds them.
#include <gtest/gtest.h>

#include "objects.h"
#include "records/modinfo.h"

using kp::elf::Writer;
using kp::kit::TempDir;
using namespace kp::libtest;
using namespace std::literals;

namespace {

// struct module of 6.1: the name at offset 24, MODULE_NAME_LEN (56) bytes.
std::vector<uint8_t> this_module(const std::string &name)
{
	std::vector<uint8_t> m(24 + 56 + 40, 0);
	std::copy(name.begin(), name.end(), m.begin() + 24);
	return m;
}

} // namespace

TEST(Modinfo, EntriesInFileOrder)
{
	TempDir d;
	Writer w;
	w.add_section(".modinfo", SHT_PROGBITS, SHF_ALLOC, 1, 0,
	              bytes("license=GPL\0name=kp_x\0depends=\0alias=a\0"
	                    "alias=b\0intree\0"sv));
	auto o = write_and_read(w, d, "m.ko");
	ASSERT_TRUE(o);
	auto m = kp::records::read_modinfo(*o);
	using E = std::pair<std::string, std::string>;
	EXPECT_EQ(m.entries, (std::vector<E>{{"license", "GPL"},
	                                     {"name", "kp_x"},
	                                     {"depends", ""},
	                                     {"alias", "a"},
	                                     {"alias", "b"},
	                                     {"intree", ""}}));
	EXPECT_EQ(m.first("name"), "kp_x");
	EXPECT_EQ(m.first("alias"), "a");
	EXPECT_EQ(m.first("vermagic"), "");
	EXPECT_EQ(m.values("alias"), (std::vector<std::string>{"a", "b"}));
	EXPECT_TRUE(m.values("vermagic").empty());
}

TEST(Modinfo, OnlyTheAllocatedSectionCounts)
{
	TempDir d;
	Writer w;
	w.add_section(".modinfo", SHT_PROGBITS, 0, 1, 0, bytes("name=fake\0"sv));
	auto o = write_and_read(w, d, "m.ko");
	ASSERT_TRUE(o);
	EXPECT_TRUE(kp::records::read_modinfo(*o).entries.empty());
}

TEST(ThisModuleName, ReadFromStructModule)
{
	TempDir d;
	Writer w;
	w.add_section(".gnu.linkonce.this_module", SHT_PROGBITS, kData, 64, 0, this_module("kp_x"));
	auto o = write_and_read(w, d, "m.ko");
	ASSERT_TRUE(o);
	EXPECT_EQ(kp::records::this_module_name(*o), "kp_x");
}

TEST(ThisModuleName, EmptyWhenMissingShortOrUnterminated)
{
	TempDir d;
	Writer none;
	none.add_section(".text", SHT_PROGBITS, kText, 16, 0, {0xc3});
	auto o = write_and_read(none, d, "none.ko");
	ASSERT_TRUE(o);
	EXPECT_EQ(kp::records::this_module_name(*o), "");

	Writer shorter;
	shorter.add_section(".gnu.linkonce.this_module", SHT_PROGBITS, kData, 64, 0,
	                    std::vector<uint8_t>(24, 0));
	o = write_and_read(shorter, d, "short.ko");
	ASSERT_TRUE(o);
	EXPECT_EQ(kp::records::this_module_name(*o), "");

	Writer unterminated;
	unterminated.add_section(".gnu.linkonce.this_module", SHT_PROGBITS, kData, 64, 0,
	                         this_module(std::string(56, 'x')));
	o = write_and_read(unterminated, d, "long.ko");
	ASSERT_TRUE(o);
	EXPECT_EQ(kp::records::this_module_name(*o), "");
}
