// lib/records patch_records.h: the records of a diffgen output object (no kp_patch
// record: each kind from its allocated section), pointer fields resolved through the
// section's relocations, and the malformed records refused as Error(records) values.
#include <gtest/gtest.h>

#include "kp/abi.h"
#include "objects.h"
#include "records/patch_records.h"

using kp::ErrorKind;
using kp::elf::Writer;
using kp::kit::TempDir;
using kp::records::Pointer;
using namespace kp::libtest;
using namespace std::literals;

namespace {

// Strings "vmlinux", "cmdline_proc_show", "overflowuid" in .rodata.str; the replacement
// new_fn in .text; printk undefined.
struct Sample {
	Writer w;
	size_t str = 0, text = 0;
	Writer::SymId str_sym = 0, new_fn = 0, printk = 0;
	static constexpr int64_t kVmlinux = 0, kFunc = 8, kVar = 26;

	Sample()
	{
		str = w.add_section(".rodata.str", SHT_PROGBITS,
		                    SHF_ALLOC | SHF_MERGE | SHF_STRINGS, 1, 1,
		                    bytes("vmlinux\0cmdline_proc_show\0overflowuid\0"sv));
		text = w.add_section(".text", SHT_PROGBITS, kText, 16, 0, std::vector<uint8_t>(32));
		str_sym = w.section_symbol(str);
		new_fn = w.add_symbol("new_fn", STT_FUNC, STB_LOCAL, text, 16, 16);
		printk = w.add_symbol("printk", STT_NOTYPE, STB_GLOBAL, SHN_UNDEF, 0, 0);
	}
	// A record section @name of @rec bytes; @pointers: field offset -> (symbol, addend).
	size_t records(const char *name, std::vector<uint8_t> rec,
	               const std::vector<std::tuple<uint64_t, Writer::SymId, int64_t>> &pointers,
	               uint32_t type = R_X86_64_64)
	{
		size_t s = w.add_section(name, SHT_PROGBITS, SHF_ALLOC, 8, 0, std::move(rec));
		for (const auto &[off, sym, addend] : pointers)
			w.add_reloc(s, off, type, sym, addend);
		return s;
	}
	std::vector<uint8_t> func_rec(uint64_t sympos, uint64_t old_size, uint64_t new_size)
	{
		std::vector<uint8_t> r;
		for (uint64_t v :
		     {uint64_t(0), uint64_t(0), sympos, old_size, uint64_t(0), new_size})
			put_u64(r, v);
		return r;
	}
	void add_func(uint32_t type = R_X86_64_64)
	{
		records(KP_SEC_FUNCS, func_rec(2, 0x40, 16),
		        {{offsetof(kp_func_rec, objname), str_sym, kVmlinux},
		         {offsetof(kp_func_rec, name), str_sym, kFunc},
		         {offsetof(kp_func_rec, new_func), new_fn, 0}},
		        type);
	}
};

kp::Expected<kp::records::PatchRecords> read(const Sample &s, const TempDir &d)
{
	auto o = write_and_read(s.w, d, "out.o");
	if (!o)
		return kp::Error(ErrorKind::internal, "fixture unreadable");
	// The object goes out of scope: the records hold copies, not views.
	return kp::records::read_patch_records(*o);
}

} // namespace

TEST(PatchRecords, FunctionRecordWithResolvedPointers)
{
	TempDir d;
	Sample s;
	s.add_func();
	auto r = read(s, d);
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_FALSE(r->patch) << "a diffgen output has no kp_patch record";
	ASSERT_EQ(r->funcs.size(), 1u);
	const auto &f = r->funcs[0];
	EXPECT_EQ(f.object, "vmlinux");
	EXPECT_EQ(f.function, "cmdline_proc_show");
	EXPECT_EQ(f.sympos, 2u);
	EXPECT_EQ(f.old_size, 0x40u);
	EXPECT_EQ(f.new_size, 16u);
	EXPECT_EQ(f.new_func.kind, Pointer::Kind::local);
	EXPECT_EQ(f.new_func.symbol, "new_fn");
	EXPECT_EQ(f.new_func.section, ".text");
	EXPECT_EQ(f.new_func.value, 16u);
	EXPECT_EQ(f.new_func.describe(), "new_fn");
	EXPECT_TRUE(r->syms.empty());
	EXPECT_TRUE(r->relocs.empty());
}

TEST(PatchRecords, SymbolRecordPointsAtAnExternalSymbol)
{
	TempDir d;
	Sample s;
	std::vector<uint8_t> rec(sizeof(kp_sym_rec), 0);
	rec[offsetof(kp_sym_rec, sympos)] = 1;
	s.records(KP_SEC_SYMS, rec,
	          {{offsetof(kp_sym_rec, objname), s.str_sym, Sample::kVmlinux},
	           {offsetof(kp_sym_rec, name), s.str_sym, Sample::kVar},
	           {offsetof(kp_sym_rec, addr), s.printk, 0x10}});
	auto r = read(s, d);
	ASSERT_TRUE(r) << r.error().message();
	ASSERT_EQ(r->syms.size(), 1u);
	EXPECT_EQ(r->syms[0].symbol, "overflowuid");
	EXPECT_EQ(r->syms[0].sympos, 1u);
	EXPECT_EQ(r->syms[0].expected.kind, Pointer::Kind::external);
	EXPECT_EQ(r->syms[0].expected.describe(), "printk+0x10");
}

TEST(PatchRecords, StatesAndValues)
{
	TempDir d;
	Sample s;
	std::vector<uint8_t> states;
	for (uint64_t v : {7, 2, 9, 1})
		put_u64(states, v);
	s.records(KP_SEC_STATES, states, {});
	std::vector<uint8_t> value(sizeof(kp_value_rec), 0);
	value[offsetof(kp_value_rec, size)] = 4;
	value[offsetof(kp_value_rec, old_value)] = 0xfe;
	value[offsetof(kp_value_rec, old_value) + 1] = 0xff;
	value[offsetof(kp_value_rec, new_value)] = 0xfd;
	value[offsetof(kp_value_rec, new_value) + 1] = 0xff;
	s.records(KP_SEC_VALUES, value,
	          {{offsetof(kp_value_rec, objname), s.str_sym, Sample::kVmlinux},
	           {offsetof(kp_value_rec, name), s.str_sym, Sample::kVar}});
	auto r = read(s, d);
	ASSERT_TRUE(r) << r.error().message();
	ASSERT_EQ(r->states.size(), 2u);
	EXPECT_EQ(r->states[0].id, 7u);
	EXPECT_EQ(r->states[0].version, 2u);
	EXPECT_EQ(r->states[1].id, 9u);
	ASSERT_EQ(r->values.size(), 1u);
	EXPECT_EQ(r->values[0].variable, "overflowuid");
	EXPECT_EQ(kp::records::value_text(r->values[0].old_value), "0xfffe");
	EXPECT_EQ(kp::records::value_text(r->values[0].new_value), "0xfffd");
	EXPECT_EQ(kp::records::value_text({1, 2, 3}), "01 02 03");
}

// kp_policy records are ORed, as the core does; an unknown kind is refused.
TEST(PatchRecords, PolicyRecordsAreOredAndUnknownKindsRefused)
{
	TempDir d;
	Sample s;
	std::vector<uint8_t> policy;
	put_u64(policy, KP_ROLLBACK_WARN);
	put_u64(policy, 0);
	put_u64(policy, KP_ROLLBACK_STACK);
	put_u64(policy, 0);
	s.records(KP_SEC_POLICY, policy, {});
	auto r = read(s, d);
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_EQ(r->rollback_on, KP_ROLLBACK_WARN | KP_ROLLBACK_STACK);
	EXPECT_EQ(kp::records::rollback_kinds_text(r->rollback_on), "warn,stack");
	EXPECT_EQ(r->on_timeout, 0u);

	TempDir d2;
	Sample bad;
	std::vector<uint8_t> unknown;
	put_u64(unknown, 0x4);
	put_u64(unknown, 0);
	bad.records(KP_SEC_POLICY, unknown, {});
	auto e = read(bad, d2);
	ASSERT_FALSE(e);
	EXPECT_NE(e.error().message().find("unknown rollback kinds 0x4"), std::string::npos)
	        << e.error().message();
}

// on_timeout (issue 25): the records that set one must agree, as the core requires; an
// unknown mode is refused.
TEST(PatchRecords, PolicyOnTimeoutAgreesOrIsRefused)
{
	auto with = [](std::initializer_list<uint64_t> modes) {
		std::vector<uint8_t> policy;
		for (uint64_t m : modes) {
			put_u64(policy, 0);
			put_u64(policy, m);
		}
		return policy;
	};
	TempDir d;
	Sample s;
	s.records(KP_SEC_POLICY, with({0, KP_ON_TIMEOUT_REVERSE, KP_ON_TIMEOUT_REVERSE}), {});
	auto r = read(s, d);
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_EQ(r->on_timeout, static_cast<uint64_t>(KP_ON_TIMEOUT_REVERSE));
	EXPECT_EQ(kp::records::on_timeout_text(r->on_timeout), "reverse");
	EXPECT_EQ(kp::records::on_timeout_text(KP_ON_TIMEOUT_PENDING), "pending");

	TempDir d2;
	Sample both;
	both.records(KP_SEC_POLICY, with({KP_ON_TIMEOUT_PENDING, KP_ON_TIMEOUT_REVERSE}), {});
	auto e = read(both, d2);
	ASSERT_FALSE(e);
	EXPECT_NE(e.error().message().find("both on_timeout pending and reverse"),
	          std::string::npos)
	        << e.error().message();

	TempDir d3;
	Sample unknown;
	unknown.records(KP_SEC_POLICY, with({3}), {});
	auto u = read(unknown, d3);
	ASSERT_FALSE(u);
	EXPECT_NE(u.error().message().find("unknown on_timeout 3"), std::string::npos)
	        << u.error().message();
}

TEST(PatchRecords, RollbackKindNames)
{
	EXPECT_EQ(kp::records::parse_rollback_kinds("stack,warn"),
	          KP_ROLLBACK_WARN | KP_ROLLBACK_STACK);
	EXPECT_EQ(kp::records::parse_rollback_kinds(""), 0u);
	EXPECT_EQ(kp::records::parse_rollback_kinds("warn,oops"), std::nullopt);
	EXPECT_EQ(kp::records::rollback_kinds_text(0), "");
}

TEST(PatchRecordsErrors, ASectionNotAWholeNumberOfRecords)
{
	TempDir d;
	Sample s;
	s.records(KP_SEC_FUNCS, std::vector<uint8_t>(sizeof(kp_func_rec) - 8, 0), {});
	auto r = read(s, d);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), ErrorKind::records);
	EXPECT_NE(r.error().message().find("kp_funcs"), std::string::npos) << r.error().message();
	EXPECT_NE(r.error().message().find("not a multiple"), std::string::npos)
	        << r.error().message();
}

TEST(PatchRecordsErrors, APointerFieldWithAnotherRelocationType)
{
	TempDir d;
	Sample s;
	s.add_func(R_X86_64_PC32);
	auto r = read(s, d);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), ErrorKind::records);
	EXPECT_NE(r.error().message().find("instead of R_X86_64_64"), std::string::npos)
	        << r.error().message();
	EXPECT_EQ(r.error().message().rfind(d / "out.o", 0), 0u) << r.error().message();
}

TEST(PatchRecordsErrors, AValueOfSizeZero)
{
	TempDir d;
	Sample s;
	s.records(KP_SEC_VALUES, std::vector<uint8_t>(sizeof(kp_value_rec), 0),
	          {{offsetof(kp_value_rec, objname), s.str_sym, Sample::kVmlinux},
	           {offsetof(kp_value_rec, name), s.str_sym, Sample::kVar}});
	auto r = read(s, d);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), ErrorKind::records);
	EXPECT_NE(r.error().message().find("has size 0"), std::string::npos) << r.error().message();
}

TEST(PatchRecordsErrors, AStringThatIsNotTerminated)
{
	TempDir d;
	Writer w;
	size_t str = w.add_section(".rodata.str", SHT_PROGBITS, SHF_ALLOC, 1, 0, bytes("vmlinux"));
	auto sym = w.section_symbol(str);
	std::vector<uint8_t> rec(sizeof(kp_func_rec), 0);
	size_t funcs = w.add_section(KP_SEC_FUNCS, SHT_PROGBITS, SHF_ALLOC, 8, 0, rec);
	w.add_reloc(funcs, offsetof(kp_func_rec, objname), R_X86_64_64, sym, 0);
	auto o = write_and_read(w, d);
	ASSERT_TRUE(o);
	auto r = kp::records::read_patch_records(*o);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), ErrorKind::records);
	EXPECT_NE(r.error().message().find("not NUL-terminated"), std::string::npos)
	        << r.error().message();
}
