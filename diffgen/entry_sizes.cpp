#include "entry_sizes.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <dwarf.h>
#include <elf.h>
#include <memory>
#include <vector>

#include "dwfl_offline.h"

namespace kp::diffgen {

namespace {

constexpr SpecialKind kinds[] = {
        {"__bug_table", "bug_entry", true},
        {"__ex_table", "exception_table_entry", true},
        {"__jump_table", "jump_entry", true},
        {".altinstructions", "alt_instr", true},
        {".parainstructions", "paravirt_patch_site", true},
        {".static_call_sites", "static_call_site", true},
        {".orc_unwind", "orc_entry", true},
        {".orc_unwind_ip", "int", false},
        {".smp_locks", "int", false},
        {".retpoline_sites", "int", false},
        {".return_sites", "int", false},
        {".call_sites", "int", false},
        {".ibt_endbr_seal", "int", false},
        {".printk_index", "long unsigned int", false},
        {"__mcount_loc", "long unsigned int", false},
        // objtool's annotations (include/linux/objtool.h, asm/nospec-branch.h): read by
        // objtool, discarded by the link.  Carried for a kernel that runs objtool on the
        // linked patch module (IBT): without them it would warn about the annotated
        // instructions (a paravirt call's "indirect call found in RETPOLINE build").
        {".discard.retpoline_safe", "int", false},
        {".discard.noendbr", "int", false},
        {".discard.instr_begin", "int", false},
        {".discard.instr_end", "int", false},
        {".discard.reachable", "int", false},
        {".discard.intra_function_calls", "int", false},
        {".discard.validate_unret", "int", false},
        {".discard.ignore_alts", "int", false},
        {".discard.func_stack_frame_non_standard", "long unsigned int", false},
};

struct Fd {
	int fd = -1;
	~Fd()
	{
		if (fd >= 0)
			close(fd);
	}
};
struct DwarfCloser {
	void operator()(Dwarf *d) const { dwarf_end(d); }
};

} // namespace

std::span<const SpecialKind> special_kinds()
{
	return kinds;
}

const SpecialKind *special_kind(const std::string &section)
{
	for (const auto &k : kinds)
		if (section == k.section)
			return &k;
	return nullptr;
}

void EntrySizes::scan(const std::string &file)
{
	// Linked images: libdw directly (fast, nothing to relocate).  Relocatable objects:
	// libdwfl's offline reporting, which applies the relocations of their debug sections.
	std::unique_ptr<Dwfl, DwflCloser> dwfl;
	std::unique_ptr<Dwarf, DwarfCloser> direct;
	Fd f;
	f.fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
	if (f.fd < 0)
		return;
	Elf64_Ehdr eh{};
	if (pread(f.fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh))
		return;
	Dwarf *dw = nullptr;
	if (eh.e_type != ET_REL) {
		direct.reset(dwarf_begin(f.fd, DWARF_C_READ));
		dw = direct.get();
	} else {
		dwfl.reset(dwfl_begin(&dwfl_offline_callbacks));
		if (!dwfl)
			return;
		Dwfl_Module *mod = dwfl_report_offline(dwfl.get(), "entry-sizes", file.c_str(), -1);
		dwfl_report_end(dwfl.get(), nullptr, nullptr);
		Dwarf_Addr bias = 0;
		if (mod)
			dw = dwfl_module_getdwarf(mod, &bias);
	}
	if (!dw)
		return;
	std::map<std::string, bool> wanted;
	for (const auto &k : kinds)
		if (!found_.count(k.type_name))
			wanted[k.type_name] = k.is_struct;
	Dwarf_Off off = 0, next = 0;
	size_t hsize = 0;
	while (!wanted.empty() &&
	       dwarf_nextcu(dw, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
		Dwarf_Die cu, die;
		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
			do {
				int tag = dwarf_tag(&die);
				if (tag != DW_TAG_structure_type && tag != DW_TAG_base_type)
					continue;
				const char *nm = dwarf_diename(&die);
				if (!nm)
					continue;
				auto it = wanted.find(nm);
				if (it == wanted.end() ||
				    it->second != (tag == DW_TAG_structure_type))
					continue;
				Dwarf_Word size = 0;
				Dwarf_Attribute a;
				if (dwarf_attr(&die, DW_AT_byte_size, &a) &&
				    dwarf_formudata(&a, &size) == 0 && size) {
					found_[nm] = size;
					wanted.erase(it);
				}
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
}

std::optional<uint64_t> EntrySizes::size_of(const SpecialKind &kind)
{
	for (;;) {
		auto it = found_.find(kind.type_name);
		if (it != found_.end())
			return it->second;
		if (scanned_ >= files_.size())
			return std::nullopt;
		scan(files_[scanned_++]);
	}
}

} // namespace kp::diffgen
