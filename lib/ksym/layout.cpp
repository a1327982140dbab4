#include "ksym/layout.h"

namespace kp::ksym {

namespace {

// SHF_RO_AFTER_INIT (include/linux/module.h: 0x00200000 in the OS-specific range).
constexpr uint64_t kShfRoAfterInit = 0x00200000;

bool is_init_name(const std::string &name)
{
	return name.rfind(".init", 0) == 0;
}

} // namespace

std::vector<std::optional<uint64_t>> module_core_layout(const elf::Object &ko)
{
	// {must have, must not have} per pass; ARCH_SHF_SMALL is 0 on x86_64.
	static const uint64_t masks[][2] = {
	        {SHF_EXECINSTR | SHF_ALLOC, 0},
	        {SHF_ALLOC, SHF_WRITE},
	        {kShfRoAfterInit | SHF_ALLOC, 0},
	        {SHF_WRITE | SHF_ALLOC, 0},
	};
	std::vector<std::optional<uint64_t>> at(ko.sections().size());
	uint64_t size = 0;
	for (const auto &m : masks) {
		for (const auto &sec : ko.sections()) {
			uint64_t f = sec->flags();
			if ((f & m[0]) != m[0] || (f & m[1]) || at[sec->index] ||
			    is_init_name(sec->name) || sec->name == ".data..percpu")
				continue;
			uint64_t align = sec->shdr.sh_addralign ? sec->shdr.sh_addralign : 1;
			size = (size + align - 1) / align * align;
			at[sec->index] = size;
			size += sec->size();
		}
	}
	return at;
}

bool module_keeps_symbols_of(const elf::Section &sec)
{
	if (sec.name == ".data..percpu")
		return true;
	return (sec.flags() & SHF_ALLOC) && !is_init_name(sec.name);
}

} // namespace kp::ksym
