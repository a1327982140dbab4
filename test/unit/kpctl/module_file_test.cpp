// read_module() on real .ko files built from test/integration/kpctl-fixtures.
#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <kp/abi.h>

#include "errors.h"
#include "fixtures.h"
#include "module_file.h"

using namespace kp::ctl::test;
using kp::ctl::Exit;
using kp::ctl::ModuleInfo;
using kp::ctl::Pointer;
using kp::ctl::read_module;

namespace {

Exit error_of(const std::string &path, bool require_kp = true)
{
	try {
		read_module(path, require_kp);
	} catch (const kp::ctl::Error &e) {
		return e.code();
	}
	return Exit::ok;
}

// File offset of section @name in @ko (found with libelf independently of kpctl).
long section_offset(const fs::path &ko, const std::string &name)
{
	int fd = open(ko.c_str(), O_RDONLY);
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, nullptr);
	size_t shstrndx = 0;
	elf_getshdrstrndx(e, &shstrndx);
	long off = -1;
	for (Elf_Scn *s = elf_nextscn(e, nullptr); s; s = elf_nextscn(e, s)) {
		GElf_Shdr sh;
		gelf_getshdr(s, &sh);
		if (name == elf_strptr(e, shstrndx, sh.sh_name))
			off = static_cast<long>(sh.sh_offset);
	}
	elf_end(e);
	close(fd);
	return off;
}

// Copy of @ko with @from replaced by @to (same length) everywhere.
fs::path patched_copy(const fs::path &ko, const std::string &name, const std::string &from,
                      const std::string &to)
{
	std::string bytes = read_file(ko);
	size_t n = 0;
	for (size_t p = bytes.find(from); p != std::string::npos; p = bytes.find(from, p + 1), n++)
		bytes.replace(p, from.size(), to);
	EXPECT_GT(n, 0u) << from << " not found in " << ko;
	fs::path out = scratch_dir(name) / ko.filename();
	write_file(out, bytes);
	return out;
}

} // namespace

TEST(ModuleFile, NameTargetAndSources)
{
	KPCTL_NEED_FIXTURES();
	ModuleInfo m = read_module(fixtures().patch_ko);
	EXPECT_EQ(m.name, "kpctl_fixture");
	EXPECT_TRUE(m.kp_patch);
	EXPECT_TRUE(m.has_record);
	EXPECT_EQ(m.abi_version, static_cast<unsigned>(KP_ABI_VERSION));
	EXPECT_EQ(m.record_name, "kpctl_fixture");
	EXPECT_EQ(m.target_release, test_kernel_release());
	EXPECT_EQ(m.vermagic_release, test_kernel_release());
	ASSERT_EQ(m.target_build_id.size(), 40u);
	EXPECT_EQ(m.target_build_id, test_kernel_build_id());
	ASSERT_EQ(m.sources.size(), 2u);
	std::vector<std::string> src;
	for (const auto &s : m.sources)
		src.push_back(s.file + ":" + s.sha256);
	std::sort(src.begin(), src.end());
	EXPECT_EQ(src[0], "fix-one.diff:" + std::string(64, '1'));
	EXPECT_EQ(src[1], "fix-two.diff:" + std::string(64, '2'));
}

TEST(ModuleFile, FunctionRecordsThroughRelocations)
{
	KPCTL_NEED_FIXTURES();
	ModuleInfo m = read_module(fixtures().patch_ko);
	ASSERT_EQ(m.funcs.size(), 2u);
	EXPECT_EQ(m.funcs[0].object, "vmlinux");
	EXPECT_EQ(m.funcs[0].function, "cmdline_proc_show");
	EXPECT_EQ(m.funcs[0].sympos, 0u);
	EXPECT_EQ(m.funcs[0].old_size, 0x3cu);
	EXPECT_EQ(m.funcs[0].new_func.kind, Pointer::Kind::local);
	EXPECT_EQ(m.funcs[0].new_func.describe(), "fixture_cmdline_show");
	EXPECT_EQ(m.funcs[1].object, "fuse");
	EXPECT_EQ(m.funcs[1].function, "fuse_dev_read");
	EXPECT_EQ(m.funcs[1].sympos, 2u);
	EXPECT_EQ(m.funcs[1].old_size, 0x120u);
	EXPECT_EQ(m.funcs[1].new_func.describe(), "fixture_dev_read");
}

TEST(ModuleFile, SymbolAndRelocationRecords)
{
	KPCTL_NEED_FIXTURES();
	ModuleInfo m = read_module(fixtures().patch_ko);
	ASSERT_EQ(m.syms.size(), 1u);
	EXPECT_EQ(m.syms[0].object, "vmlinux");
	EXPECT_EQ(m.syms[0].symbol, "fixture_hidden_symbol");
	EXPECT_EQ(m.syms[0].sympos, 1u);
	EXPECT_EQ(m.syms[0].expected.kind, Pointer::Kind::external);
	EXPECT_EQ(m.syms[0].expected.describe(), "jiffies_64+0x100");
	ASSERT_EQ(m.relocs.size(), 1u);
	EXPECT_EQ(m.relocs[0].object, "fuse");
	EXPECT_EQ(m.relocs[0].symbol, "fuse_conn_get");
	EXPECT_EQ(m.relocs[0].addend, -4);
	EXPECT_EQ(m.relocs[0].type_name(), "R_X86_64_PC32");
	EXPECT_EQ(m.relocs[0].dest.describe(), "fixture_reloc_slot");
	// What the module loader must resolve.
	for (const char *u : {"_printk", "jiffies_64", "__fentry__"})
		EXPECT_NE(std::find(m.undefined.begin(), m.undefined.end(), u), m.undefined.end())
		        << u;
	EXPECT_EQ(std::find(m.undefined.begin(), m.undefined.end(), "fixture_dev_read"),
	          m.undefined.end());
}

TEST(ModuleFile, WrongBuildIdVariantReadsItsOwnTarget)
{
	KPCTL_NEED_FIXTURES();
	ModuleInfo m = read_module(fixtures().wrong_id_ko);
	EXPECT_EQ(m.target_build_id, std::string(40, '0'));
	EXPECT_EQ(m.target_release, test_kernel_release());
}

TEST(ModuleFile, PlainModuleIsNotAKpPatch)
{
	KPCTL_NEED_FIXTURES();
	EXPECT_EQ(error_of(fixtures().plain_ko), Exit::not_kp_patch);
	ModuleInfo m = read_module(fixtures().plain_ko, false);
	EXPECT_EQ(m.name, "kpctl_plain");
	EXPECT_FALSE(m.kp_patch);
	EXPECT_TRUE(m.funcs.empty());
}

TEST(ModuleFile, FilesThatAreNotModules)
{
	KPCTL_NEED_FIXTURES();
	fs::path d = scratch_dir("notmod");
	write_file(d / "text.ko", "this is not ELF\n");
	EXPECT_EQ(error_of((d / "text.ko").string()), Exit::not_module);
	EXPECT_EQ(error_of((d / "missing.ko").string()), Exit::file_missing);
	EXPECT_EQ(error_of(fixtures().patch_o), Exit::not_module); // the .o, before modpost
	EXPECT_EQ(error_of("/bin/sh"), Exit::not_module);          // ELF executable
}

TEST(ModuleFile, CorruptedRecordMagicIsRefused)
{
	KPCTL_NEED_FIXTURES();
	const fs::path &ko = fixtures().patch_ko;
	long off = section_offset(ko, "kp_patch");
	ASSERT_GT(off, 0);
	std::string bytes = read_file(ko);
	bytes[static_cast<size_t>(off)] ^= 0x5a;
	fs::path out = scratch_dir("magic") / "kpctl_fixture.ko";
	write_file(out, bytes);
	EXPECT_EQ(error_of(out), Exit::not_kp_patch);
}

TEST(ModuleFile, AlteredModinfoBuildIdDisagreesWithRecord)
{
	KPCTL_NEED_FIXTURES();
	std::string id = test_kernel_build_id();
	// Only the modinfo copy (prefixed by its key) changes; the record's string stays.
	fs::path ko = patched_copy(fixtures().patch_ko, "altered", "kp_target_build_id=" + id,
	                           "kp_target_build_id=" + std::string(40, 'f'));
	EXPECT_EQ(error_of(ko), Exit::not_kp_patch);
}

TEST(ModuleFile, NormalizesModuleNames)
{
	EXPECT_EQ(kp::ctl::normalize_module_name("kp-fix-1"), "kp_fix_1");
	EXPECT_EQ(kp::ctl::normalize_module_name("kp_core"), "kp_core");
}
