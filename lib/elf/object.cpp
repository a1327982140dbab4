#include "elf/object.h"

#include <fcntl.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "support/compressed.h"
#include "support/fd.h"

namespace kp::elf {

namespace {

struct ElfCloser {
	void operator()(Elf *e) const { elf_end(e); }
};
using ElfHandle = std::unique_ptr<Elf, ElfCloser>;

// Thrown inside the reader only; Object::open/from_bytes turn it into an Error value.
struct ReadFailure {
	ErrorKind kind;
	std::string message;
};

std::string elf_error()
{
	const char *m = elf_errmsg(-1);
	return m ? m : "unknown libelf error";
}

} // namespace

// Reads one file in objtool's order: sections, symbols (then items and aliases), relocations.
class Object::Reader {
public:
	Reader(Object &obj, const ReadOptions &opts) : o_(obj), opts_(opts) {}

	void run()
	{
		read_header();
		read_sections();
		if (!symtab_) {
			// Nothing to correlate or patch (e.g. a stripped note object); relocations
			// would have nothing to refer to.
			for (auto &sec : o_.sections_)
				if (sec->shdr.sh_type == SHT_RELA && opts_.relocations)
					fail("section " + sec->name +
					     ": relocations without a symbol table");
			return;
		}
		read_symbols();
		if (o_.is_relocatable())
			collect_items();
		if (opts_.relocations)
			read_relocs();
	}

private:
	[[noreturn]] void fail(const std::string &what, ErrorKind kind = ErrorKind::format)
	{
		throw ReadFailure{kind, o_.path_ + ": " + what};
	}

	void read_header();
	void read_sections();
	void read_symbols();
	void read_symbol(size_t i, Elf_Data *symdata, Elf_Data *xdata);
	void collect_items();
	void collapse_aliases(Section &sec);
	void read_relocs();
	void read_rela(Section &sec);

	Object &o_;
	const ReadOptions &opts_;
	ElfHandle elf_;
	size_t shnum_ = 0;
	Section *symtab_ = nullptr;
	Elf_Data *symdata_ = nullptr, *xdata_ = nullptr;
};

void Object::Reader::read_header()
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		fail("libelf initialisation failed", ErrorKind::internal);
	auto bytes = o_.bytes_;
	if (bytes.size() < sizeof(Elf64_Ehdr))
		fail("not an ELF object (file too small: " + std::to_string(bytes.size()) +
		     " bytes)");
	elf_.reset(elf_memory(const_cast<char *>(reinterpret_cast<const char *>(bytes.data())),
	                      bytes.size()));
	if (!elf_ || elf_kind(elf_.get()) != ELF_K_ELF)
		fail("not an ELF object");
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf_.get(), &eh))
		fail("bad ELF header: " + elf_error());
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
		fail("not an x86_64 ELF64 object");
	o_.type_ = eh.e_type;
	if (opts_.relocatable_only && eh.e_type != ET_REL)
		fail("not a relocatable object (e_type " + std::to_string(eh.e_type) + ")");
}

void Object::Reader::read_sections()
{
	size_t shstrndx = 0;
	if (elf_getshdrnum(elf_.get(), &shnum_) || elf_getshdrstrndx(elf_.get(), &shstrndx))
		fail("bad section header table: " + elf_error());
	if (shstrndx >= shnum_)
		fail("section name string table index out of range");
	auto bytes = o_.bytes_;
	o_.sections_.resize(shnum_);
	for (size_t i = 0; i < shnum_; i++) {
		auto sec = std::make_unique<Section>();
		sec->index = i;
		Elf_Scn *scn = elf_getscn(elf_.get(), i);
		if (!scn || !gelf_getshdr(scn, &sec->shdr))
			fail("section " + std::to_string(i) + ": bad header: " + elf_error());
		const char *nm = elf_strptr(elf_.get(), shstrndx, sec->shdr.sh_name);
		if (!nm)
			fail("section " + std::to_string(i) + ": bad name offset");
		sec->name = nm;
		if (i != 0 && sec->shdr.sh_type != SHT_NOBITS && sec->shdr.sh_type != SHT_NULL) {
			const GElf_Shdr &sh = sec->shdr;
			if (sh.sh_offset > bytes.size() || sh.sh_size > bytes.size() - sh.sh_offset)
				fail("section " + sec->name +
				     ": extends past the end of the file (truncated?)");
			sec->data = bytes.subspan(sh.sh_offset, sh.sh_size);
			if (sh.sh_type == SHT_SYMTAB) {
				if (symtab_)
					fail("more than one symbol table");
				symtab_ = sec.get();
				symdata_ = elf_getdata(scn, nullptr);
				if (!symdata_ && sh.sh_size)
					fail("section " + sec->name +
					     ": cannot read data: " + elf_error());
			} else if (sh.sh_type == SHT_SYMTAB_SHNDX) {
				xdata_ = elf_getdata(scn, nullptr);
			}
		}
		o_.sections_[i] = std::move(sec);
	}
	for (auto &s : o_.sections_)
		o_.by_name_.emplace(s->name, s.get());
	o_.has_symtab_ = symtab_ != nullptr;
}

void Object::Reader::read_symbols()
{
	const GElf_Shdr &sh = symtab_->shdr;
	if (sh.sh_link >= shnum_ || o_.sections_[sh.sh_link]->shdr.sh_type != SHT_STRTAB)
		fail(".symtab: sh_link does not name a string table");
	if (sh.sh_entsize != sizeof(Elf64_Sym))
		fail(".symtab: unexpected entry size " + std::to_string(sh.sh_entsize));
	size_t nsyms = sh.sh_size / sizeof(Elf64_Sym);
	o_.symbols_.resize(nsyms);
	for (size_t i = 0; i < nsyms; i++)
		read_symbol(i, symdata_, xdata_);
}

void Object::Reader::read_symbol(size_t i, Elf_Data *symdata, Elf_Data *xdata)
{
	GElf_Sym s;
	Elf32_Word xndx = 0;
	if (!gelf_getsymshndx(symdata, xdata, static_cast<int>(i), &s, &xndx))
		fail(".symtab: cannot read symbol " + std::to_string(i) + ": " + elf_error());
	auto sym = std::make_unique<Symbol>();
	sym->index = i;
	const char *nm = elf_strptr(elf_.get(), symtab_->shdr.sh_link, s.st_name);
	if (!nm)
		fail(".symtab: symbol " + std::to_string(i) + " has a bad name offset");
	sym->name = nm;
	sym->type = GELF_ST_TYPE(s.st_info);
	sym->bind = GELF_ST_BIND(s.st_info);
	sym->other = s.st_other;
	sym->shndx = s.st_shndx == SHN_XINDEX ? xndx : s.st_shndx;
	sym->value = s.st_value;
	sym->size = s.st_size;
	bool special = s.st_shndx != SHN_XINDEX &&
	               (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE);
	if (!special) {
		if (sym->shndx >= shnum_)
			fail("symbol " + sym->name + ": section index " +
			     std::to_string(sym->shndx) + " out of range");
		sym->sec = o_.sections_[sym->shndx].get();
		if (sym->type == STT_SECTION) {
			sym->name = sym->sec->name;
			if (!sym->sec->secsym)
				sym->sec->secsym = sym.get();
		}
		if (sym->type == STT_FILE)
			sym->sec = nullptr;
	}
	if (sym->type == STT_FILE && o_.file_name_.empty())
		o_.file_name_ = sym->name;
	o_.symbols_[i] = std::move(sym);
}

void Object::Reader::collect_items()
{
	for (auto &sym : o_.symbols_) {
		if (!sym->is_item())
			continue;
		Section *sec = sym->sec;
		uint64_t limit = sec->is_nobits() ? UINT64_MAX : sec->data.size();
		if (sym->value > limit || sym->size > limit - sym->value)
			fail("symbol " + sym->name + ": range [" + std::to_string(sym->value) +
			     ", +" + std::to_string(sym->size) + ") outside section " + sec->name);
		sec->items.push_back(sym.get());
	}
	for (auto &sec : o_.sections_)
		collapse_aliases(*sec);
}

// Aliases collapse onto one primary: global before local, then symtab order.
void Object::Reader::collapse_aliases(Section &sec)
{
	auto &items = sec.items;
	std::stable_sort(items.begin(), items.end(),
	                 [](const Symbol *a, const Symbol *b) { return a->value < b->value; });
	std::vector<Symbol *> kept;
	for (size_t i = 0; i < items.size();) {
		size_t j = i;
		Symbol *primary = items[i];
		while (j < items.size() && items[j]->value == items[i]->value &&
		       items[j]->size == items[i]->size && items[j]->type == items[i]->type) {
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

void Object::Reader::read_relocs()
{
	for (auto &sec : o_.sections_) {
		if (sec->shdr.sh_type == SHT_REL)
			fail("section " + sec->name +
			     ": SHT_REL relocations are not used on x86_64");
		if (sec->shdr.sh_type == SHT_RELA)
			read_rela(*sec);
	}
}

void Object::Reader::read_rela(Section &sec)
{
	if (sec.shdr.sh_info >= shnum_ || sec.shdr.sh_info == 0)
		fail("section " + sec.name + ": sh_info names no section");
	if (sec.shdr.sh_link != symtab_->index)
		fail("section " + sec.name + ": sh_link is not .symtab");
	if (sec.shdr.sh_entsize != sizeof(Elf64_Rela))
		fail("section " + sec.name + ": unexpected entry size");
	Section *base = o_.sections_[sec.shdr.sh_info].get();
	if (base->rela)
		fail("section " + base->name + " has two relocation sections");
	base->rela = &sec;
	sec.base = base;
	Elf_Data *d = elf_getdata(elf_getscn(elf_.get(), sec.index), nullptr);
	size_t n = sec.shdr.sh_size / sizeof(Elf64_Rela);
	base->relocs.reserve(n);
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		if (!d || !gelf_getrela(d, static_cast<int>(i), &r))
			fail("section " + sec.name + ": cannot read relocation " +
			     std::to_string(i));
		size_t si = GELF_R_SYM(r.r_info);
		if (si >= o_.symbols_.size())
			fail("section " + sec.name + ": relocation " + std::to_string(i) +
			     " names symbol " + std::to_string(si) + " out of range");
		if (base->is_nobits() || r.r_offset >= base->data.size())
			fail("section " + sec.name + ": relocation " + std::to_string(i) +
			     " at offset " + std::to_string(r.r_offset) + " outside " + base->name);
		base->relocs.push_back({r.r_offset, static_cast<uint32_t>(GELF_R_TYPE(r.r_info)),
		                        o_.symbols_[si].get(), r.r_addend});
	}
	std::stable_sort(base->relocs.begin(), base->relocs.end(),
	                 [](const Reloc &a, const Reloc &b) { return a.offset < b.offset; });
}

Object::~Object()
{
	sections_.clear();
	if (map_)
		munmap(map_, map_size_);
}

Expected<std::unique_ptr<Object>> Object::open(const std::string &path, const ReadOptions &opts)
{
	support::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd)
		return errno_error(path + ": cannot open");
	return from_fd(path, fd.get(), opts);
}

Expected<std::unique_ptr<Object>> Object::from_fd(const std::string &name, int fd,
                                                  const ReadOptions &opts)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return errno_error(name + ": cannot stat");
	auto obj = std::unique_ptr<Object>(new Object());
	obj->path_ = name;
	if (st.st_size > 0) {
		// Private and writable: libelf may convert in place, the file never changes.
		void *m = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE,
		               MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			return errno_error(name + ": cannot map");
		obj->map_ = m;
		obj->map_size_ = static_cast<size_t>(st.st_size);
		obj->bytes_ = {static_cast<const uint8_t *>(m), obj->map_size_};
	}
	// A compressed module (Debian 6.12's .ko.xz) is read as the ELF file it holds.
	switch (auto kind = support::compression_of(obj->bytes_); kind) {
	case support::Compression::none: break;
	case support::Compression::xz: {
		auto plain = support::xz_decompress(name, obj->bytes_);
		if (!plain)
			return plain.error();
		return from_bytes(name, std::move(*plain), opts);
	}
	case support::Compression::gzip:
	case support::Compression::zstd:
		return Error(ErrorKind::unsupported,
		             name + ": compressed with " +
		                     (kind == support::Compression::gzip ? "gzip" : "zstd") +
		                     ": kp reads plain and xz-compressed ELF files only");
	}
	try {
		Reader(*obj, opts).run();
	} catch (const ReadFailure &f) {
		return Error(f.kind, f.message);
	}
	return obj;
}

Expected<std::unique_ptr<Object>>
Object::from_bytes(const std::string &name, std::vector<uint8_t> bytes, const ReadOptions &opts)
{
	auto obj = std::unique_ptr<Object>(new Object());
	obj->path_ = name;
	obj->owned_ = std::move(bytes);
	obj->bytes_ = obj->owned_;
	try {
		Reader(*obj, opts).run();
	} catch (const ReadFailure &f) {
		return Error(f.kind, f.message);
	}
	return obj;
}

std::pair<const Reloc *, const Reloc *> Section::relocs_in(uint64_t begin, uint64_t end) const
{
	auto lo = std::lower_bound(relocs.begin(), relocs.end(), begin,
	                           [](const Reloc &r, uint64_t v) { return r.offset < v; });
	auto hi = std::lower_bound(lo, relocs.end(), end,
	                           [](const Reloc &r, uint64_t v) { return r.offset < v; });
	const Reloc *base = relocs.data();
	return {base + (lo - relocs.begin()), base + (hi - relocs.begin())};
}

std::optional<std::string_view> Section::string_at(uint64_t offset) const
{
	if (offset >= data.size())
		return std::nullopt;
	const char *p = reinterpret_cast<const char *>(data.data()) + offset;
	size_t n = strnlen(p, data.size() - offset);
	if (n == data.size() - offset)
		return std::nullopt;
	return std::string_view(p, n);
}

std::vector<std::string_view> Section::strings() const
{
	std::vector<std::string_view> out;
	const char *p = reinterpret_cast<const char *>(data.data());
	for (size_t i = 0; i < data.size();) {
		size_t n = strnlen(p + i, data.size() - i);
		if (n)
			out.emplace_back(p + i, n);
		i += n + 1;
	}
	return out;
}

Section *Object::section(std::string_view name) const
{
	auto it = by_name_.find(name);
	return it == by_name_.end() ? nullptr : it->second;
}

Section *Object::loaded_section(std::string_view name) const
{
	for (const auto &sec : sections_)
		if (sec && (sec->flags() & SHF_ALLOC) && sec->name == name)
			return sec.get();
	return nullptr;
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
	case R_X86_64_REX_GOTPCRELX: return true;
	default: return false;
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

} // namespace kp::elf
