#include "crafted_module.h"

#include <algorithm>
#include <cstring>
#include <elf.h>
#include <kp/abi.h>
#include <stdexcept>
#include <vector>

namespace kp::ctl::test {

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

// Sections in file order; an index is a position.
class Builder {
public:
	Builder() : sec_(1) {}
	uint16_t add(const std::string &name, std::string data, uint32_t type = SHT_PROGBITS,
	             uint64_t flags = SHF_ALLOC)
	{
		Section s{name, {}, std::move(data)};
		s.hdr.sh_type = type;
		s.hdr.sh_flags = flags;
		sec_.push_back(std::move(s));
		return static_cast<uint16_t>(sec_.size() - 1);
	}
	Elf64_Shdr &hdr(uint16_t i) { return sec_[i].hdr; }
	std::string &data(uint16_t i) { return sec_[i].data; }
	std::string finish();

private:
	std::vector<Section> sec_;
};

std::string Builder::finish()
{
	uint16_t shstr = add(".shstrtab", "", SHT_STRTAB, 0);
	std::string names(1, '\0');
	for (size_t i = 1; i < sec_.size(); i++) {
		sec_[i].hdr.sh_name = static_cast<uint32_t>(names.size());
		names += sec_[i].name;
		names += '\0';
	}
	sec_[shstr].data = names;
	// Layout: header, section contents (8-aligned), section headers.
	std::string out(sizeof(Elf64_Ehdr), '\0');
	for (size_t i = 1; i < sec_.size(); i++) {
		Elf64_Shdr &h = sec_[i].hdr;
		h.sh_addralign = 8;
		out.resize((out.size() + 7) & ~size_t(7), '\0');
		h.sh_offset = out.size();
		if (h.sh_type != SHT_NOBITS) {
			h.sh_size = sec_[i].data.size();
			out += sec_[i].data;
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
	eh.e_shnum = static_cast<uint16_t>(sec_.size());
	eh.e_shstrndx = shstr;
	std::memcpy(out.data(), &eh, sizeof(eh));
	for (const Section &s : sec_)
		append(out, s.hdr);
	return out;
}

std::string rela(uint64_t off, uint32_t symidx, int64_t addend)
{
	std::string r;
	append(r, Elf64_Rela{off, ELF64_R_INFO(symidx, R_X86_64_64), addend});
	return r;
}

Elf64_Sym section_symbol(uint16_t shndx)
{
	Elf64_Sym s{};
	s.st_info = ELF64_ST_INFO(STB_LOCAL, STT_SECTION);
	s.st_shndx = shndx;
	return s;
}

} // namespace

std::string crafted_module(const CraftedModule &spec)
{
	Builder b;
	std::string modinfo = "name=" + spec.modinfo_name + '\0' +
	                      "vermagic=6.1.0 SMP mod_unload " + '\0' + "kp_patch=1" + '\0';
	b.add(".modinfo", modinfo);
	uint16_t this_module = b.add(".gnu.linkonce.this_module", std::string(0x380, '\0'),
	                             SHT_PROGBITS, SHF_ALLOC | SHF_WRITE);
	std::memcpy(b.data(this_module).data() + 24, spec.module_name.data(),
	            std::min<size_t>(spec.module_name.size(), 0x380 - 24));

	// Strings: "vmlinux", "f<i>", "decoy", the patch's name, then zeros.
	std::string str("vmlinux", 8);
	std::vector<size_t> name_off;
	for (size_t i = 0; i < spec.records; i++) {
		name_off.push_back(str.size());
		str += "f" + std::to_string(i) + '\0';
	}
	size_t decoy_off = str.size();
	str += std::string("decoy") + '\0';
	size_t patch_name_off = str.size();
	str += (spec.record_name.empty() ? spec.module_name : spec.record_name) + '\0';
	size_t set_off = str.size();
	str += spec.record_set + '\0';
	if (str.size() > spec.string_section)
		throw std::invalid_argument("crafted_module: string_section too small");
	str.resize(spec.string_section, '\0');
	uint16_t strs =
	        b.add(".rodata.str1.1", str, SHT_PROGBITS, SHF_ALLOC | SHF_MERGE | SHF_STRINGS);
	uint16_t text = b.add(".text", "", SHT_NOBITS, SHF_ALLOC | SHF_EXECINSTR);
	b.hdr(text).sh_size = 16 * spec.symbols + 16;

	uint16_t decoy = 0;
	if (spec.decoy != CraftedModule::Decoy::none)
		decoy = b.add(KP_SEC_FUNCS, std::string(sizeof(kp_func_rec), '\0'), SHT_PROGBITS,
		              spec.decoy == CraftedModule::Decoy::allocated ? SHF_ALLOC : 0);
	uint16_t funcs = b.add(KP_SEC_FUNCS, std::string(spec.records * sizeof(kp_func_rec), '\0'));
	uint16_t patch = 0;
	if (spec.patch_record)
		patch = b.add(KP_SEC_PATCH, std::string(sizeof(kp_patch_rec), '\0'));

	// Symbols: null, section symbols, then func_<i>.
	std::string strtab(1, '\0'), symtab;
	append(symtab, Elf64_Sym{});
	const uint32_t sym_str = 1, sym_text = 2, sym_funcs = 3;
	append(symtab, section_symbol(strs));
	append(symtab, section_symbol(text));
	append(symtab, section_symbol(funcs));
	for (size_t i = 0; i < spec.symbols; i++) {
		Elf64_Sym f{};
		f.st_name = static_cast<uint32_t>(strtab.size());
		strtab += "func_" + std::to_string(i) + '\0';
		f.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
		f.st_shndx = text;
		f.st_value = 16 * i;
		f.st_size = 16;
		append(symtab, f);
	}

	std::string funcs_rela;
	for (size_t i = 0; i < spec.records; i++) {
		uint64_t base = i * sizeof(kp_func_rec);
		std::memcpy(b.data(funcs).data() + base + offsetof(kp_func_rec, old_size), "\x10",
		            1);
		funcs_rela += rela(base + offsetof(kp_func_rec, objname), sym_str, 0);
		funcs_rela += rela(base + offsetof(kp_func_rec, name), sym_str,
		                   static_cast<int64_t>(name_off[i]));
		funcs_rela += rela(base + offsetof(kp_func_rec, new_func), sym_text,
		                   static_cast<int64_t>(16 * i) + spec.addend);
	}
	// After kp_funcs: [kp_patch], .rela kp_funcs, [.rela kp_patch], [.rela decoy], .symtab.
	uint16_t symtab_idx = static_cast<uint16_t>(funcs + 2 + (patch ? 2 : 0) + (decoy ? 1 : 0));
	auto add_rela = [&](uint16_t target, const std::string &data) {
		uint16_t r =
		        b.add(".rela" + std::string(target == patch ? KP_SEC_PATCH : KP_SEC_FUNCS),
		              data, SHT_RELA, SHF_INFO_LINK);
		b.hdr(r).sh_link = symtab_idx;
		b.hdr(r).sh_info = target;
		b.hdr(r).sh_entsize = sizeof(Elf64_Rela);
	};
	add_rela(funcs, funcs_rela);
	if (patch) {
		kp_patch_rec rec{};
		rec.magic = KP_PATCH_MAGIC;
		rec.abi_version = KP_ABI_VERSION;
		rec.flags = spec.record_flags;
		std::memcpy(b.data(patch).data(), &rec, sizeof(rec));
		add_rela(patch,
		         (spec.record_set.empty() ? std::string()
		                                  : rela(offsetof(kp_patch_rec, set), sym_str,
		                                         static_cast<int64_t>(set_off))) +
		                 rela(offsetof(kp_patch_rec, name), sym_str,
		                      static_cast<int64_t>(patch_name_off)) +
		                 rela(offsetof(kp_patch_rec, funcs), sym_funcs, 0) +
		                 rela(offsetof(kp_patch_rec, funcs_end), sym_funcs,
		                      static_cast<int64_t>(spec.records * sizeof(kp_func_rec))));
	}
	if (decoy)
		add_rela(decoy, rela(offsetof(kp_func_rec, objname), sym_str, 0) +
		                        rela(offsetof(kp_func_rec, name), sym_str,
		                             static_cast<int64_t>(decoy_off)));
	uint16_t st = b.add(".symtab", symtab, SHT_SYMTAB, 0);
	if (st != symtab_idx)
		throw std::logic_error("crafted_module: symbol table index");
	b.hdr(st).sh_link = st + 1;
	b.hdr(st).sh_info = 4; // first global
	b.hdr(st).sh_entsize = sizeof(Elf64_Sym);
	b.add(".strtab", strtab, SHT_STRTAB, 0);
	return b.finish();
}

} // namespace kp::ctl::test
