// Build ID parsing from ELF notes, and the JSON shape of sysfs patch state.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "fixtures.h"
#include "kernel.h"
#include "render/json.h"

namespace {

void put_note(std::string &buf, const std::string &name, uint32_t type, const std::string &desc)
{
	uint32_t hdr[3] = {static_cast<uint32_t>(name.size() + 1),
	                   static_cast<uint32_t>(desc.size()), type};
	buf.append(reinterpret_cast<const char *>(hdr), sizeof(hdr));
	buf += name;
	buf += '\0';
	buf.append((4 - (name.size() + 1) % 4) % 4, '\0');
	buf += desc;
	buf.append((4 - desc.size() % 4) % 4, '\0');
}

} // namespace

TEST(Kernel, BuildIdFromNotesSkipsOtherNotes)
{
	std::string notes;
	put_note(notes, "Xen", 3, std::string("\x01\x02\x03\x04\x05", 5)); // type 3 but not GNU
	put_note(notes, "Linux", 6, std::string(4, '\0'));
	put_note(notes, "GNU", 3, std::string("\x13\x6b\xea\x46\x00\xff", 6));
	EXPECT_EQ(kp::ctl::build_id_from_notes(notes), "136bea4600ff");
}

TEST(Kernel, NoBuildIdInNotes)
{
	std::string notes;
	put_note(notes, "Linux", 6, std::string(4, '\0'));
	EXPECT_EQ(kp::ctl::build_id_from_notes(notes), "");
	EXPECT_EQ(kp::ctl::build_id_from_notes(std::string(5, '\x7f')), ""); // truncated
}

TEST(Kernel, RunningBuildIdComesFromSysfsNotes)
{
	auto d = kp::ctl::test::scratch_dir("notes");
	std::string notes;
	put_note(notes, "GNU", 3, std::string("\xab\xcd", 2));
	kp::ctl::test::write_file(d / "kernel/notes", notes);
	setenv("KPCTL_SYSFS", d.c_str(), 1);
	EXPECT_EQ(kp::ctl::running_build_id(), "abcd");
	unsetenv("KPCTL_SYSFS");
}

TEST(Json, PatchStateShape)
{
	kp::ctl::PatchState p;
	p.name = "kp_fix";
	p.enabled = true;
	p.transition = "disabling";
	p.transition_ms = 250;
	p.pending = {"42 busy_thread kp_busy_fn_new+0x10/0x40"};
	p.timeout = 30;
	p.blocked = {"42 busy_thread kp_busy_fn+0x10/0x40"};
	p.build_id = "abcd";
	p.funcs.push_back(
	        {"vmlinux", "cmdline_proc_show", 0, "0xffffffff81000000", "0xffffffffc0000000"});
	auto j = kp::ctl::patch_json(p);
	EXPECT_EQ(
	        j.dump(),
	        R"({"blocked":["42 busy_thread kp_busy_fn+0x10/0x40"],"build_id":"abcd","callbacks":[],"canary":[],"enabled":true,"forced":false,)"
	        R"("functions":[{"function":"cmdline_proc_show","new_addr":"0xffffffffc0000000",)"
	        R"("object":"vmlinux","old_addr":"0xffffffff81000000","sympos":0}],"name":"kp_fix",)"
	        R"("on_timeout":"","pending":["42 busy_thread kp_busy_fn_new+0x10/0x40"],"probation_left":0,)"
	        R"("replace":false,"replaced":[],"replaced_by":null,"rolled_back":null,"set":"",)"
	        R"("shadow_ids":[],"stalled":false,"states":[],)"
	        R"("timeout":30,"transition":"disabling",)"
	        R"("transition_ms":250,"values":[]})");
}
