#include "elf/object.h"

#include <fcntl.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "errors.h"

namespace kp::elf {

using diffgen::Error;

namespace {

struct ElfCloser {
	void operator()(Elf *e) const { elf_end(e); }
};
using ElfHandle = std::unique_ptr<Elf, ElfCloser>;

[[noreturn]] void fail(const std::string &path, const std::string &what)
{
	throw Error(path + ": " + what);
}

std::string elf_error() { return elf_errmsg(-1) ? elf_errmsg(-1) : "unknown libelf error"; }

}  // namespace

std::pair<const Reloc *, const Reloc *> Section::relocs_in(uint64_t begin, uint64_t end) const
{
	auto lo = std::lower_bound(relocs.begin(), relocs.end(), begin,
				   [](const Reloc &r, uint64_t v) { return r.offset < v; });
	auto hi = std::lower_bound(lo, relocs.end(), end,
				   [](const Reloc &r, uint64_t v) { return r.offset < v; });
	const Reloc *base = relocs.data();
	return {base + (lo - relocs.begin()), base + (hi - relocs.begin())};
}

std::unique_ptr<Object> Object::load(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		fail(path, std::string("cannot open: ") + std::strerror(errno));
	std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	if (in.bad())
		fail(path, "read error");
	return parse(path, std::move(bytes));
}

std::unique_ptr<Object> Object::parse(const std::string &name, std::vector<uint8_t> bytes)
{
	auto obj = std::unique_ptr<Object>(new Object());
	obj->path_ = name;
	obj->bytes_ = std::move(bytes);
	obj->read();
	return obj;
}

void Object::read()
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		fail(path_, "libelf initialisation failed");
	if (bytes_.size() < sizeof(Elf64_Ehdr))
		fail(path_, "not an ELF object (file too small: " + std::to_string(bytes_.size()) + " bytes)");
	ElfHandle elf(elf_memory(reinterpret_cast<char *>(bytes_.data()), bytes_.size()));
	if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
		fail(path_, "not an ELF object");
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf.get(), &eh))
		fail(path_, "bad ELF header: " + elf_error());
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
		fail(path_, "not an x86_64 ELF64 object");
	if (eh.e_type != ET_REL)
		fail(path_, "not a relocatable object (e_type " + std::to_string(eh.e_type) + ")");

	size_t shnum = 0, shstrndx = 0;
	if (elf_getshdrnum(elf.get(), &shnum) || elf_getshdrstrndx(elf.get(), &shstrndx))
		fail(path_, "bad section header table: " + elf_error());
	if (shstrndx >= shnum)
		fail(path_, "section name string table index out of range");

	sections_.resize(shnum);
	Section *symtab = nullptr;
	Elf_Data *symdata = nullptr, *xdata = nullptr;
	for (size_t i = 0; i < shnum; i++) {
		auto sec = std::make_unique<Section>();
		sec->index = i;
		Elf_Scn *scn = elf_getscn(elf.get(), i);
		if (!scn || !gelf_getshdr(scn, &sec->shdr))
			fail(path_, "section " + std::to_string(i) + ": bad header: " + elf_error());
		const char *nm = elf_strptr(elf.get(), shstrndx, sec->shdr.sh_name);
		if (!nm)
			fail(path_, "section " + std::to_string(i) + ": bad name offset");
		sec->name = nm;
		if (i != 0 && sec->shdr.sh_type != SHT_NOBITS && sec->shdr.sh_type != SHT_NULL) {
			if (sec->shdr.sh_offset > bytes_.size() || sec->shdr.sh_size > bytes_.size() - sec->shdr.sh_offset)
				fail(path_, "section " + sec->name + ": extends past the end of the file (truncated?)");
			Elf_Data *d = elf_getdata(scn, nullptr);
			if (!d && sec->shdr.sh_size)
				fail(path_, "section " + sec->name + ": cannot read data: " + elf_error());
			if (d && d->d_buf)
				sec->data.assign(static_cast<uint8_t *>(d->d_buf), static_cast<uint8_t *>(d->d_buf) + d->d_size);
			if (sec->shdr.sh_type == SHT_SYMTAB) {
				if (symtab)
					fail(path_, "more than one symbol table");
				symtab = sec.get();
				symdata = d;
			} else if (sec->shdr.sh_type == SHT_SYMTAB_SHNDX) {
				xdata = d;
			}
		}
		by_name_.emplace(sec->name, sec.get());
		sections_[i] = std::move(sec);
	}
	// by_name_ keys view into Section::name, which no longer moves.
	by_name_.clear();
	for (auto &s : sections_)
		by_name_.emplace(s->name, s.get());

	if (!symtab) {
		// Nothing to correlate or patch (e.g. a stripped note object); relocations
		// would have nothing to refer to.
		for (auto &sec : sections_)
			if (sec->shdr.sh_type == SHT_RELA)
				fail(path_, "section " + sec->name + ": relocations without a symbol table");
		return;
	}
	if (symtab->shdr.sh_link >= shnum || sections_[symtab->shdr.sh_link]->shdr.sh_type != SHT_STRTAB)
		fail(path_, ".symtab: sh_link does not name a string table");
	if (symtab->shdr.sh_entsize != sizeof(Elf64_Sym))
		fail(path_, ".symtab: unexpected entry size " + std::to_string(symtab->shdr.sh_entsize));
	size_t nsyms = symtab->shdr.sh_size / sizeof(Elf64_Sym);
	symbols_.resize(nsyms);
	for (size_t i = 0; i < nsyms; i++) {
		GElf_Sym s;
		Elf32_Word xndx = 0;
		if (!gelf_getsymshndx(symdata, xdata, static_cast<int>(i), &s, &xndx))
			fail(path_, ".symtab: cannot read symbol " + std::to_string(i) + ": " + elf_error());
		auto sym = std::make_unique<Symbol>();
		sym->index = i;
		const char *nm = elf_strptr(elf.get(), symtab->shdr.sh_link, s.st_name);
		if (!nm)
			fail(path_, ".symtab: symbol " + std::to_string(i) + " has a bad name offset");
		sym->name = nm;
		sym->type = GELF_ST_TYPE(s.st_info);
		sym->bind = GELF_ST_BIND(s.st_info);
		sym->other = s.st_other;
		sym->shndx = s.st_shndx == SHN_XINDEX ? xndx : s.st_shndx;
		sym->value = s.st_value;
		sym->size = s.st_size;
		bool special = s.st_shndx != SHN_XINDEX && (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE);
		if (!special) {
			if (sym->shndx >= shnum)
				fail(path_, "symbol " + sym->name + ": section index " + std::to_string(sym->shndx) + " out of range");
			sym->sec = sections_[sym->shndx].get();
			if (sym->type == STT_SECTION) {
				sym->name = sym->sec->name;
				if (!sym->sec->secsym)
					sym->sec->secsym = sym.get();
			}
			if (sym->type == STT_FILE)
				sym->sec = nullptr;
		}
		if (sym->type == STT_FILE && file_name_.empty())
			file_name_ = sym->name;
		symbols_[i] = std::move(sym);
	}
	for (auto &sym : symbols_) {
		if (!sym->is_item())
			continue;
		Section *sec = sym->sec;
		uint64_t limit = sec->is_nobits() ? UINT64_MAX : sec->data.size();
		if (sym->value > limit || sym->size > limit - sym->value)
			fail(path_, "symbol " + sym->name + ": range [" + std::to_string(sym->value) + ", +" +
					    std::to_string(sym->size) + ") outside section " + sec->name);
		sec->items.push_back(sym.get());
	}
	for (auto &sec : sections_) {
		auto &items = sec->items;
		std::stable_sort(items.begin(), items.end(),
				 [](const Symbol *a, const Symbol *b) { return a->value < b->value; });
		// Collapse aliases onto one primary: global before local, then symtab order.
		std::vector<Symbol *> kept;
		for (size_t i = 0; i < items.size();) {
			size_t j = i;
			Symbol *primary = items[i];
			while (j < items.size() && items[j]->value == items[i]->value && items[j]->size == items[i]->size &&
			       items[j]->type == items[i]->type) {
				if (!items[j]->is_local() && primary->is_local())
					primary = items[j];
				j++;
			}
			for (size_t k = i; k < j; k++)
				if (items[k] != primary) {
					items[k]->alias_of = primary;
					primary->aliases.push_back(items[k]);
				}
			kept.push_back(primary);
			i = j;
		}
		items = std::move(kept);
	}

	for (auto &sec : sections_) {
		if (sec->shdr.sh_type == SHT_REL)
			fail(path_, "section " + sec->name + ": SHT_REL relocations are not used on x86_64");
		if (sec->shdr.sh_type != SHT_RELA)
			continue;
		if (sec->shdr.sh_info >= shnum || sec->shdr.sh_info == 0)
			fail(path_, "section " + sec->name + ": sh_info names no section");
		if (sec->shdr.sh_link != symtab->index)
			fail(path_, "section " + sec->name + ": sh_link is not .symtab");
		if (sec->shdr.sh_entsize != sizeof(Elf64_Rela))
			fail(path_, "section " + sec->name + ": unexpected entry size");
		Section *base = sections_[sec->shdr.sh_info].get();
		if (base->rela)
			fail(path_, "section " + base->name + " has two relocation sections");
		base->rela = sec.get();
		sec->base = base;
		Elf_Data *d = elf_getdata(elf_getscn(elf.get(), sec->index), nullptr);
		size_t n = sec->shdr.sh_size / sizeof(Elf64_Rela);
		base->relocs.reserve(n);
		for (size_t i = 0; i < n; i++) {
			GElf_Rela r;
			if (!d || !gelf_getrela(d, static_cast<int>(i), &r))
				fail(path_, "section " + sec->name + ": cannot read relocation " + std::to_string(i));
			size_t si = GELF_R_SYM(r.r_info);
			if (si >= symbols_.size())
				fail(path_, "section " + sec->name + ": relocation " + std::to_string(i) + " names symbol " +
						    std::to_string(si) + " out of range");
			if (base->is_nobits() || r.r_offset >= base->data.size())
				fail(path_, "section " + sec->name + ": relocation " + std::to_string(i) + " at offset " +
						    std::to_string(r.r_offset) + " outside " + base->name);
			base->relocs.push_back({r.r_offset, static_cast<uint32_t>(GELF_R_TYPE(r.r_info)), symbols_[si].get(),
						r.r_addend});
		}
		std::stable_sort(base->relocs.begin(), base->relocs.end(),
				 [](const Reloc &a, const Reloc &b) { return a.offset < b.offset; });
	}
}

Section *Object::section(std::string_view name) const
{
	auto it = by_name_.find(name);
	return it == by_name_.end() ? nullptr : it->second;
}

Symbol *Object::item_at(const Section *sec, uint64_t offset, bool allow_end) const
{
	const auto &items = sec->items;
	auto it = std::upper_bound(items.begin(), items.end(), offset,
				   [](uint64_t v, const Symbol *s) { return v < s->value; });
	Symbol *ending = nullptr;
	// Items can alias (same range under two names); look back a few.
	for (int steps = 0; it != items.begin() && steps < 8; steps++) {
		--it;
		Symbol *s = *it;
		if (offset < s->value + s->size || (s->size == 0 && offset == s->value))
			return s;
		if (allow_end && offset == s->value + s->size && !ending)
			ending = s;
	}
	return ending;
}

bool is_pcrel(uint32_t type)
{
	switch (type) {
	case R_X86_64_PC32:
	case R_X86_64_PLT32:
	case R_X86_64_PC64:
	case R_X86_64_GOTPCREL:
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
		return true;
	default:
		return false;
	}
}

const char *reloc_type_name(uint32_t type)
{
	switch (type) {
	case R_X86_64_64: return "R_X86_64_64";
	case R_X86_64_PC32: return "R_X86_64_PC32";
	case R_X86_64_PLT32: return "R_X86_64_PLT32";
	case R_X86_64_32: return "R_X86_64_32";
	case R_X86_64_32S: return "R_X86_64_32S";
	case R_X86_64_PC64: return "R_X86_64_PC64";
	default: return "R_X86_64_other";
	}
}

}  // namespace kp::elf
