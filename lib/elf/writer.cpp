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

namespace {

// One libelf output file under construction: sections with their names, and the byte
// buffers libelf points into until elf_update.
class ElfOut {
public:
	explicit ElfOut(const std::string &path) : path_(path)
	{
		elf_version(EV_CURRENT);
		fd_.reset(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		if (!fd_)
			throw WriteFailure{path + ": cannot create: " + std::strerror(errno)};
		elf_.reset(elf_begin(fd_.get(), ELF_C_WRITE, nullptr));
		if (!elf_ || !gelf_newehdr(elf_.get(), ELFCLASS64))
			fail();
	}

	[[noreturn]] void fail() const
	{
		throw WriteFailure{path_ + ": libelf: " + elf_errmsg(-1)};
	}

	Elf_Scn *section(const std::string &name, uint32_t type, uint64_t flags, uint64_t align,
	                 uint64_t entsize, std::vector<uint8_t> bytes, uint64_t nobits_size = 0)
	{
		Elf_Scn *scn = elf_newscn(elf_.get());
		if (!scn)
			fail();
		keep_.push_back(std::move(bytes));
		Elf_Data *d = elf_newdata(scn);
		d->d_buf = keep_.back().empty() ? nullptr : keep_.back().data();
		d->d_size = type == SHT_NOBITS ? nobits_size : keep_.back().size();
		d->d_type = ELF_T_BYTE;
		d->d_align = align;
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		sh.sh_name = shstr_.add(name);
		sh.sh_type = type;
		sh.sh_flags = flags;
		sh.sh_addralign = align;
		sh.sh_entsize = entsize;
		sh.sh_size = d->d_size;
		gelf_update_shdr(scn, &sh);
		return scn;
	}

	// Sets the link and info fields of @scn's header.
	void link(Elf_Scn *scn, size_t link, size_t info)
	{
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		sh.sh_link = static_cast<Elf64_Word>(link);
		sh.sh_info = static_cast<Elf64_Word>(info);
		gelf_update_shdr(scn, &sh);
	}

	// Gives the string table @scn its final bytes.
	void fill(Elf_Scn *scn, const std::vector<uint8_t> &bytes)
	{
		Elf_Data *d = elf_getdata(scn, nullptr);
		keep_.push_back(bytes);
		d->d_buf = keep_.back().data();
		d->d_size = keep_.back().size();
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		sh.sh_size = d->d_size;
		gelf_update_shdr(scn, &sh);
	}

	// Writes the file; @shstr_scn (index @shstrndx) gets the section names.
	void finish(Elf_Scn *shstr_scn, size_t shstrndx)
	{
		fill(shstr_scn, shstr_.bytes);
		GElf_Ehdr eh;
		gelf_getehdr(elf_.get(), &eh);
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
		eh.e_type = ET_REL;
		eh.e_machine = EM_X86_64;
		eh.e_version = EV_CURRENT;
		eh.e_shstrndx = static_cast<Elf64_Half>(shstrndx);
		gelf_update_ehdr(elf_.get(), &eh);
		if (elf_update(elf_.get(), ELF_C_WRITE) < 0)
			throw WriteFailure{path_ +
			                   ": writing the object failed: " + elf_errmsg(-1)};
	}

private:
	std::string path_;
	support::Fd fd_;
	std::unique_ptr<Elf, ElfCloser> elf_;
	StrTab shstr_;
	std::list<std::vector<uint8_t>> keep_; // buffers alive until elf_update
};

} // namespace

Expected<void> Writer::write(const std::string &path) const
{
	try {
		write_file(path);
	} catch (const WriteFailure &f) {
		return Error(ErrorKind::io, f.message);
	}
	return {};
}

// Symbol order: null, locals, globals (ELF requires locals first).
std::vector<size_t> Writer::symbol_order(size_t *first_global) const
{
	std::vector<size_t> final_index(symbols_.size());
	size_t next = 1;
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < symbols_.size(); i++)
			if ((symbols_[i].bind == STB_LOCAL) == (pass == 0))
				final_index[i] = next++;
	*first_global = 1;
	for (const Sym &s : symbols_)
		if (s.bind == STB_LOCAL)
			(*first_global)++;
	return final_index;
}

std::vector<uint8_t> Writer::symtab_bytes(const std::vector<size_t> &final_index,
                                          std::vector<uint8_t> *strtab) const
{
	StrTab str;
	std::vector<uint8_t> bytes(sizeof(Elf64_Sym) * (symbols_.size() + 1), 0);
	for (size_t i = 0; i < symbols_.size(); i++) {
		const Sym &s = symbols_[i];
		Elf64_Sym e{};
		e.st_name = static_cast<Elf64_Word>(str.add(s.name));
		e.st_info = static_cast<unsigned char>(ELF64_ST_INFO(s.bind, s.type));
		e.st_other = s.other;
		e.st_shndx = static_cast<Elf64_Section>(s.shndx);
		e.st_value = s.value;
		e.st_size = s.size;
		std::memcpy(bytes.data() + final_index[i] * sizeof(Elf64_Sym), &e, sizeof e);
	}
	*strtab = std::move(str.bytes);
	return bytes;
}

std::vector<uint8_t> Writer::rela_bytes(const Sec &s, const std::vector<size_t> &final_index) const
{
	std::vector<uint8_t> bytes(sizeof(Elf64_Rela) * s.relocs.size());
	for (size_t j = 0; j < s.relocs.size(); j++) {
		Elf64_Rela r{};
		r.r_offset = s.relocs[j].offset;
		r.r_info = ELF64_R_INFO(final_index[s.relocs[j].sym], s.relocs[j].type);
		r.r_addend = s.relocs[j].addend;
		std::memcpy(bytes.data() + j * sizeof r, &r, sizeof r);
	}
	return bytes;
}

// Layout: the sections, .symtab, .strtab, .shstrtab, then one .rela per relocated section.
void Writer::write_file(const std::string &path) const
{
	ElfOut out(path);
	for (const Sec &s : sections_)
		out.section(s.name, s.type, s.flags, s.align, s.entsize, s.data, s.nobits_size);
	size_t symtab_index = sections_.size() + 1, strtab_index = symtab_index + 1;
	size_t first_global = 1;
	std::vector<size_t> final_index = symbol_order(&first_global);
	std::vector<uint8_t> strtab;
	Elf_Scn *symscn = out.section(".symtab", SHT_SYMTAB, 0, 8, sizeof(Elf64_Sym),
	                              symtab_bytes(final_index, &strtab));
	Elf_Scn *strscn = out.section(".strtab", SHT_STRTAB, 0, 1, 0, {});
	Elf_Scn *shstrscn = out.section(".shstrtab", SHT_STRTAB, 0, 1, 0, {});
	for (size_t i = 0; i < sections_.size(); i++) {
		if (sections_[i].relocs.empty())
			continue;
		Elf_Scn *scn =
		        out.section(".rela" + sections_[i].name, SHT_RELA, SHF_INFO_LINK, 8,
		                    sizeof(Elf64_Rela), rela_bytes(sections_[i], final_index));
		out.link(scn, symtab_index, i + 1);
	}
	out.fill(strscn, strtab);
	out.link(symscn, strtab_index, first_global);
	out.finish(shstrscn, strtab_index + 1);
}

} // namespace kp::elf
