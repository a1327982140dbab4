#include "crafted_module.h"

#include <kp/abi.h>

#include <elf.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace kpctl_test {

namespace {

template <typename T>
void append(std::string &out, const T &v)
{
	out.append(reinterpret_cast<const char *>(&v), sizeof(v));
}

struct Section {
	std::string name;
	Elf64_Shdr hdr{};
	std::string data;
};

enum : uint16_t { s_modinfo = 1, s_this_module, s_str, s_text, s_funcs, s_rela, s_symtab, s_strtab, s_shstrtab };

} // namespace

std::string crafted_module(const CraftedModule &spec)
{
	std::vector<Section> sec(10);
	sec[s_modinfo] = {".modinfo", {}, std::string("name=kp_crafted\0vermagic=6.1.0 SMP mod_unload \0kp_patch=1\0", 57)};
	sec[s_this_module] = {".gnu.linkonce.this_module", {}, std::string(0x380, '\0')};
	std::memcpy(sec[s_this_module].data.data() + 24, "kp_crafted", 10);

	// Strings: "vmlinux" then "f<i>", the rest of the section zeros.
	std::string str("vmlinux", 8);
	std::vector<size_t> name_off;
	for (size_t i = 0; i < spec.records; i++) {
		name_off.push_back(str.size());
		str += "f" + std::to_string(i);
		str += '\0';
	}
	if (str.size() > spec.string_section)
		throw std::invalid_argument("crafted_module: string_section too small");
	str.resize(spec.string_section, '\0');
	sec[s_str] = {".rodata.str1.1", {}, str};
	sec[s_text] = {".text", {}, ""};
	sec[s_text].hdr.sh_type = SHT_NOBITS;
	sec[s_text].hdr.sh_size = 16 * spec.symbols + 16;

	// Symbols: null, section symbols of the strings and .text, then func_<i>.
	std::string strtab(1, '\0'), symtab;
	append(symtab, Elf64_Sym{});
	Elf64_Sym sym{};
	sym.st_info = ELF64_ST_INFO(STB_LOCAL, STT_SECTION);
	sym.st_shndx = s_str;
	append(symtab, sym);
	sym.st_shndx = s_text;
	append(symtab, sym);
	for (size_t i = 0; i < spec.symbols; i++) {
		Elf64_Sym f{};
		f.st_name = static_cast<uint32_t>(strtab.size());
		strtab += "func_" + std::to_string(i);
		strtab += '\0';
		f.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
		f.st_shndx = s_text;
		f.st_value = 16 * i;
		f.st_size = 16;
		append(symtab, f);
	}
	const uint32_t sym_str = 1, sym_text = 2;

	std::string funcs, rela;
	auto reloc = [&](uint64_t off, uint32_t symidx, int64_t addend) {
		Elf64_Rela r{off, ELF64_R_INFO(symidx, R_X86_64_64), addend};
		append(rela, r);
	};
	for (size_t i = 0; i < spec.records; i++) {
		kp_func_rec rec{};
		rec.sympos = 0;
		rec.old_size = 0x10;
		uint64_t base = funcs.size();
		append(funcs, rec);
		reloc(base + offsetof(kp_func_rec, objname), sym_str, 0);
		reloc(base + offsetof(kp_func_rec, name), sym_str, static_cast<int64_t>(name_off[i]));
		reloc(base + offsetof(kp_func_rec, new_func), sym_text,
		      static_cast<int64_t>(16 * i) + spec.addend);
	}
	sec[s_funcs] = {KP_SEC_FUNCS, {}, funcs};
	sec[s_rela] = {".rela" KP_SEC_FUNCS, {}, rela};
	sec[s_rela].hdr.sh_type = SHT_RELA;
	sec[s_rela].hdr.sh_link = s_symtab;
	sec[s_rela].hdr.sh_info = s_funcs;
	sec[s_rela].hdr.sh_entsize = sizeof(Elf64_Rela);
	sec[s_symtab] = {".symtab", {}, symtab};
	sec[s_symtab].hdr.sh_type = SHT_SYMTAB;
	sec[s_symtab].hdr.sh_link = s_strtab;
	sec[s_symtab].hdr.sh_info = 3; // first global
	sec[s_symtab].hdr.sh_entsize = sizeof(Elf64_Sym);
	sec[s_strtab] = {".strtab", {}, strtab};
	sec[s_strtab].hdr.sh_type = SHT_STRTAB;

	std::string shstrtab(1, '\0');
	for (size_t i = 1; i < sec.size(); i++) {
		if (i == s_shstrtab)
			sec[i].name = ".shstrtab";
		sec[i].hdr.sh_name = static_cast<uint32_t>(shstrtab.size());
		shstrtab += sec[i].name;
		shstrtab += '\0';
	}
	sec[s_shstrtab].data = shstrtab;
	sec[s_shstrtab].hdr.sh_type = SHT_STRTAB;

	// Layout: header, section contents (8-aligned), section headers.
	std::string out(sizeof(Elf64_Ehdr), '\0');
	for (size_t i = 1; i < sec.size(); i++) {
		Elf64_Shdr &h = sec[i].hdr;
		if (h.sh_type == 0)
			h.sh_type = SHT_PROGBITS;
		h.sh_addralign = 8;
		out.resize((out.size() + 7) & ~size_t(7), '\0');
		h.sh_offset = out.size();
		if (h.sh_type != SHT_NOBITS) {
			h.sh_size = sec[i].data.size();
			out += sec[i].data;
		}
	}
	out.resize((out.size() + 7) & ~size_t(7), '\0');
	Elf64_Ehdr eh{};
	std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_REL;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_shoff = out.size();
	eh.e_ehsize = sizeof(Elf64_Ehdr);
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = static_cast<uint16_t>(sec.size());
	eh.e_shstrndx = s_shstrtab;
	std::memcpy(out.data(), &eh, sizeof(eh));
	for (const Section &s : sec)
		append(out, s.hdr);
	return out;
}

} // namespace kpctl_test
