#include "elf/writer.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <list>
#include <memory>

#include "support/fd.h"

namespace kp::elf {

namespace {

// Thrown inside write() only; it returns an Error value.
struct WriteFailure {
	std::string message;
};

struct ElfCloser {
	void operator()(Elf *e) const { elf_end(e); }
};

struct StrTab {
	std::vector<uint8_t> bytes{0};
	size_t add(const std::string &s)
	{
		if (s.empty())
			return 0;
		size_t off = bytes.size();
		bytes.insert(bytes.end(), s.begin(), s.end());
		bytes.push_back(0);
		return off;
	}
};

} // namespace

size_t Writer::add_section(const std::string &name, uint32_t type, uint64_t flags, uint64_t align,
                           uint64_t entsize, std::vector<uint8_t> data, uint64_t nobits_size)
{
	sections_.push_back({name,
	                     type,
	                     flags,
	                     align ? align : 1,
	                     entsize,
	                     nobits_size,
	                     std::move(data),
	                     {},
	                     SIZE_MAX});
	return sections_.size();
}

Writer::SymId Writer::add_symbol(const std::string &name, unsigned char type, unsigned char bind,
                                 size_t shndx, uint64_t value, uint64_t size, unsigned char other)
{
	symbols_.push_back({name, type, bind, other, shndx, value, size});
	return symbols_.size() - 1;
}

Writer::SymId Writer::section_symbol(size_t shndx)
{
	Sec &s = sections_.at(shndx - 1);
	if (s.secsym == SIZE_MAX)
		s.secsym = add_symbol("", STT_SECTION, STB_LOCAL, shndx, 0, 0);
	return s.secsym;
}

void Writer::add_reloc(size_t shndx, uint64_t offset, uint32_t type, SymId sym, int64_t addend)
{
	sections_.at(shndx - 1).relocs.push_back({offset, type, sym, addend});
}

Expected<void> Writer::write(const std::string &path) const
{
	try {
		write_file(path);
	} catch (const WriteFailure &f) {
		return Error(ErrorKind::io, f.message);
	}
	return {};
}

void Writer::write_file(const std::string &path) const
{
	elf_version(EV_CURRENT);
	support::Fd f(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	if (!f)
		throw WriteFailure(path + ": cannot create: " + std::strerror(errno));
	std::unique_ptr<Elf, ElfCloser> elf(elf_begin(f.get(), ELF_C_WRITE, nullptr));
	if (!elf || !gelf_newehdr(elf.get(), ELFCLASS64))
		throw WriteFailure(path + ": libelf: " + elf_errmsg(-1));
	GElf_Ehdr eh;
	gelf_getehdr(elf.get(), &eh);
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_REL;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;

	// Symbol order: null, locals, globals.
	std::vector<size_t> final_index(symbols_.size());
	std::vector<const Sym *> ordered;
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < symbols_.size(); i++)
			if ((symbols_[i].bind == STB_LOCAL) == (pass == 0)) {
				final_index[i] = ordered.size() + 1;
				ordered.push_back(&symbols_[i]);
			}
	size_t first_global = 1;
	for (const Sym *s : ordered)
		if (s->bind == STB_LOCAL)
			first_global++;

	StrTab shstr, str;
	std::list<std::vector<uint8_t>> keep; // buffers alive until elf_update
	auto new_scn = [&](const std::string &name, uint32_t type, uint64_t flags, uint64_t align,
	                   uint64_t entsize, std::vector<uint8_t> bytes, uint64_t nobits_size) {
		Elf_Scn *scn = elf_newscn(elf.get());
		if (!scn)
			throw WriteFailure(path + ": libelf: " + elf_errmsg(-1));
		keep.push_back(std::move(bytes));
		Elf_Data *d = elf_newdata(scn);
		d->d_buf = keep.back().empty() ? nullptr : keep.back().data();
		d->d_size = type == SHT_NOBITS ? nobits_size : keep.back().size();
		d->d_type = ELF_T_BYTE;
		d->d_align = align;
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		sh.sh_name = shstr.add(name);
		sh.sh_type = type;
		sh.sh_flags = flags;
		sh.sh_addralign = align;
		sh.sh_entsize = entsize;
		sh.sh_size = d->d_size;
		gelf_update_shdr(scn, &sh);
		return scn;
	};

	for (const Sec &s : sections_)
		new_scn(s.name, s.type, s.flags, s.align, s.entsize, s.data, s.nobits_size);
	size_t symtab_index = sections_.size() + 1;
	size_t strtab_index = symtab_index + 1;
	// Relocation sections after symtab/strtab/shstrtab.
	std::vector<uint8_t> symbytes(sizeof(Elf64_Sym) * (ordered.size() + 1), 0);
	for (size_t i = 0; i < ordered.size(); i++) {
		const Sym *s = ordered[i];
		Elf64_Sym e{};
		e.st_name = static_cast<Elf64_Word>(str.add(s->name));
		e.st_info = static_cast<unsigned char>(ELF64_ST_INFO(s->bind, s->type));
		e.st_other = s->other;
		e.st_shndx = static_cast<Elf64_Section>(s->shndx);
		e.st_value = s->value;
		e.st_size = s->size;
		std::memcpy(symbytes.data() + (i + 1) * sizeof(Elf64_Sym), &e, sizeof e);
	}
	Elf_Scn *symscn =
	        new_scn(".symtab", SHT_SYMTAB, 0, 8, sizeof(Elf64_Sym), std::move(symbytes), 0);
	elf_getdata(symscn, nullptr)->d_type = ELF_T_BYTE;
	Elf_Scn *strscn = new_scn(".strtab", SHT_STRTAB, 0, 1, 0, {}, 0);
	Elf_Scn *shstrscn = new_scn(".shstrtab", SHT_STRTAB, 0, 1, 0, {}, 0);
	size_t shstr_index = strtab_index + 1;

	for (size_t i = 0; i < sections_.size(); i++) {
		const Sec &s = sections_[i];
		if (s.relocs.empty())
			continue;
		std::vector<uint8_t> bytes(sizeof(Elf64_Rela) * s.relocs.size());
		for (size_t j = 0; j < s.relocs.size(); j++) {
			Elf64_Rela r{};
			r.r_offset = s.relocs[j].offset;
			r.r_info = ELF64_R_INFO(final_index[s.relocs[j].sym], s.relocs[j].type);
			r.r_addend = s.relocs[j].addend;
			std::memcpy(bytes.data() + j * sizeof r, &r, sizeof r);
		}
		Elf_Scn *scn = new_scn(".rela" + s.name, SHT_RELA, SHF_INFO_LINK, 8,
		                       sizeof(Elf64_Rela), std::move(bytes), 0);
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		sh.sh_link = static_cast<Elf64_Word>(symtab_index);
		sh.sh_info = static_cast<Elf64_Word>(i + 1);
		gelf_update_shdr(scn, &sh);
	}

	// String tables are complete now.
	{
		Elf_Data *d = elf_getdata(strscn, nullptr);
		keep.push_back(str.bytes);
		d->d_buf = keep.back().data();
		d->d_size = keep.back().size();
		GElf_Shdr sh;
		gelf_getshdr(strscn, &sh);
		sh.sh_size = d->d_size;
		gelf_update_shdr(strscn, &sh);
		GElf_Shdr sy;
		gelf_getshdr(symscn, &sy);
		sy.sh_link = static_cast<Elf64_Word>(strtab_index);
		sy.sh_info = static_cast<Elf64_Word>(first_global);
		gelf_update_shdr(symscn, &sy);
	}
	{
		Elf_Data *d = elf_getdata(shstrscn, nullptr);
		keep.push_back(shstr.bytes);
		d->d_buf = keep.back().data();
		d->d_size = keep.back().size();
		GElf_Shdr sh;
		gelf_getshdr(shstrscn, &sh);
		sh.sh_size = d->d_size;
		gelf_update_shdr(shstrscn, &sh);
	}
	eh.e_shstrndx = static_cast<Elf64_Half>(shstr_index);
	gelf_update_ehdr(elf.get(), &eh);
	if (elf_update(elf.get(), ELF_C_WRITE) < 0)
		throw WriteFailure(path + ": writing the object failed: " + elf_errmsg(-1));
}

} // namespace kp::elf
