#include "ksym/layout.h"

#include <regex>
#include <string>

namespace kp::ksym {

namespace {

// SHF_RO_AFTER_INIT (include/linux/module.h: 0x00200000 in the OS-specific range).
constexpr uint64_t kShfRoAfterInit = 0x00200000;

bool is_init_name(const std::string &name)
{
	return name.rfind(".init", 0) == 0;
}

// The flags the loader lays a section out by: it marks these two read-only after init
// (layout_and_allocate) before layout_sections.
uint64_t layout_flags(const elf::Section &sec)
{
	uint64_t f = sec.flags();
	if (sec.name == ".data..ro_after_init" || sec.name == "__jump_table")
		f |= kShfRoAfterInit;
	return f;
}

} // namespace

ModuleMemory module_memory_of(const elf::Object &ko)
{
	const elf::Section *modinfo = ko.section(".modinfo");
	if (!modinfo)
		return ModuleMemory::one_core;
	static const std::regex re(R"(^vermagic=([0-9]+)\.([0-9]+)[.+ -])");
	for (std::string_view s : modinfo->strings()) {
		std::string text(s);
		std::smatch m;
		if (!std::regex_search(text, m, re))
			continue;
		int major = std::stoi(m[1]), minor = std::stoi(m[2]);
		return major > 6 || (major == 6 && minor >= 4) ? ModuleMemory::per_kind
		                                               : ModuleMemory::one_core;
	}
	return ModuleMemory::one_core;
}

std::vector<std::optional<uint64_t>> module_core_layout(const elf::Object &ko, ModuleMemory memory)
{
	// {must have, must not have, kind (allocation order of mem[])} per pass; ARCH_SHF_SMALL
	// is 0 on x86_64.
	struct Pass {
		uint64_t want, refuse;
		unsigned kind; // MOD_TEXT 0, MOD_DATA 1, MOD_RODATA 2, MOD_RO_AFTER_INIT 3
	};
	static const Pass passes[] = {
	        {SHF_EXECINSTR | SHF_ALLOC, 0, 0},
	        {SHF_ALLOC, SHF_WRITE, 2},
	        {kShfRoAfterInit | SHF_ALLOC, 0, 3},
	        {SHF_WRITE | SHF_ALLOC, 0, 1},
	};
	std::vector<std::optional<uint64_t>> at(ko.sections().size());
	uint64_t sizes[4] = {};
	for (const auto &p : passes) {
		bool per_kind = memory == ModuleMemory::per_kind;
		uint64_t &size = sizes[per_kind ? p.kind : 0];
		for (const auto &sec : ko.sections()) {
			uint64_t f = layout_flags(*sec);
			if ((f & p.want) != p.want || (f & p.refuse) || at[sec->index] ||
			    is_init_name(sec->name) || sec->name == ".data..percpu")
				continue;
			uint64_t align = sec->shdr.sh_addralign ? sec->shdr.sh_addralign : 1;
			size = (size + align - 1) / align * align;
			at[sec->index] = (per_kind ? p.kind * kKindStride : 0) + size;
			size += sec->size();
		}
	}
	return at;
}

std::vector<std::optional<uint64_t>> module_core_layout(const elf::Object &ko)
{
	return module_core_layout(ko, module_memory_of(ko));
}

bool module_keeps_symbols_of(const elf::Section &sec)
{
	if (sec.name == ".data..percpu")
		return true;
	return (sec.flags() & SHF_ALLOC) && !is_init_name(sec.name);
}

} // namespace kp::ksym
