// read_module reads what the kernel and the core use: the module name from struct
// module (.gnu.linkonce.this_module), sections as the module loader finds them (the
// first allocated one of a name), and the records between the kp_patch record's bounds.
#include <gtest/gtest.h>

#include <kp/abi.h>

#include "crafted_module.h"
#include "errors.h"
#include "fixtures.h"
#include "module_file.h"

using namespace kp::ctl::test;
using kp::ctl::Exit;
using kp::ctl::ModuleInfo;

namespace {

fs::path write_crafted(const std::string &name, const CraftedModule &spec)
{
	fs::path p = scratch_dir(name) / "kp_crafted.ko";
	write_file(p, crafted_module(spec));
	return p;
}

Exit error_of(const fs::path &p, std::string *message = nullptr)
{
	try {
		kp::ctl::read_module(p.string());
	} catch (const kp::ctl::Error &e) {
		if (message)
			*message = e.what();
		return e.code();
	}
	return Exit::ok;
}

std::vector<std::string> functions(const ModuleInfo &m)
{
	std::vector<std::string> out;
	for (const auto &f : m.funcs)
		out.push_back(f.function);
	return out;
}

} // namespace

TEST(ModuleSections, NameIsStructModulesNotModinfos)
{
	CraftedModule spec;
	spec.module_name = "kp_loaded_as";
	spec.modinfo_name = "kp_shown_as";
	ModuleInfo m = kp::ctl::read_module(write_crafted("names", spec).string());
	EXPECT_EQ(m.name, "kp_loaded_as");
	EXPECT_EQ(m.modinfo.values("name"), std::vector<std::string>{"kp_shown_as"});
}

TEST(ModuleSections, ModuleWithoutAStructModuleNameIsRefused)
{
	CraftedModule spec;
	spec.module_name = "";
	std::string why;
	EXPECT_EQ(error_of(write_crafted("noname", spec), &why), Exit::not_module);
	EXPECT_NE(why.find(".gnu.linkonce.this_module"), std::string::npos) << why;
	spec.module_name = std::string(60, 'k'); // no NUL within MODULE_NAME_LEN
	spec.string_section = 256;
	EXPECT_EQ(error_of(write_crafted("longname", spec)), Exit::not_module);
}

TEST(ModuleSections, RecordsAreTheOnesThePatchRecordBounds)
{
	CraftedModule spec;
	spec.records = 2;
	spec.patch_record = true;
	spec.decoy = CraftedModule::Decoy::allocated; // an earlier kp_funcs the core never reads
	ModuleInfo m = kp::ctl::read_module(write_crafted("bounds", spec).string());
	EXPECT_TRUE(m.has_record);
	EXPECT_EQ(functions(m), (std::vector<std::string>{"f0", "f1"}));
}

TEST(ModuleSections, SectionTheLoaderIgnoresIsIgnored)
{
	CraftedModule spec;
	spec.records = 2;
	spec.decoy = CraftedModule::Decoy::not_allocated; // no SHF_ALLOC: not loaded
	ModuleInfo m = kp::ctl::read_module(write_crafted("noalloc", spec).string());
	EXPECT_FALSE(m.has_record);
	EXPECT_EQ(functions(m), (std::vector<std::string>{"f0", "f1"}));
}

TEST(ModuleSections, RecordNamingAnotherPatchIsRefused)
{
	CraftedModule spec;
	spec.patch_record = true;
	spec.record_name = "kp_other";
	std::string why;
	EXPECT_EQ(error_of(write_crafted("recname", spec), &why), Exit::not_kp_patch);
	EXPECT_NE(why.find("kp_other"), std::string::npos) << why;
}

TEST(ModuleSections, ReplaceFlagAndSet)
{
	CraftedModule spec;
	spec.patch_record = true;
	ModuleInfo plain = kp::ctl::read_module(write_crafted("stacked", spec).string());
	ASSERT_TRUE(plain.patch);
	EXPECT_FALSE(plain.patch->replace);
	EXPECT_EQ(plain.patch->set, "");
	spec.record_flags = KP_PATCH_REPLACE;
	spec.record_set = "fleet";
	ModuleInfo m = kp::ctl::read_module(write_crafted("replace", spec).string());
	ASSERT_TRUE(m.patch);
	EXPECT_TRUE(m.patch->replace);
	EXPECT_EQ(m.patch->set, "fleet");
}

TEST(ModuleSections, UnknownPatchFlagIsRefused)
{
	CraftedModule spec;
	spec.patch_record = true;
	spec.record_flags = KP_PATCH_REPLACE | 0x100;
	std::string why;
	EXPECT_EQ(error_of(write_crafted("flags", spec), &why), Exit::not_kp_patch);
	EXPECT_NE(why.find("unknown flags 0x100"), std::string::npos) << why;
}

TEST(ModuleSections, LongSetNameIsRefused)
{
	CraftedModule spec;
	spec.patch_record = true;
	spec.string_section = 256;
	spec.record_set = std::string(KP_SET_NAME_MAX + 1, 's');
	std::string why;
	EXPECT_EQ(error_of(write_crafted("longset", spec), &why), Exit::not_kp_patch);
	EXPECT_NE(why.find("replace set name is longer than 64"), std::string::npos) << why;
}

TEST(ModuleSections, RealPatchModuleReadsItsBoundedRecords)
{
	KPCTL_NEED_FIXTURES();
	ModuleInfo m = kp::ctl::read_module(fixtures().patch_ko);
	EXPECT_TRUE(m.has_record);
	EXPECT_EQ(m.name, "kpctl_fixture");
	EXPECT_EQ(functions(m), (std::vector<std::string>{"cmdline_proc_show", "fuse_dev_read"}));
	EXPECT_EQ(m.syms.size(), 1u);
	EXPECT_EQ(m.relocs.size(), 1u);
}
