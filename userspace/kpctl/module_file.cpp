#include "module_file.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <kp/abi.h>
#include <map>
#include <sstream>
#include <unordered_map>

#include "elf_file.h"
#include "errors.h"
#include "module_fd.h"
#include "symbol_index.h"

namespace kp::ctl {

namespace {

std::string hex(uint64_t v)
{
	std::ostringstream s;
	s << "0x" << std::hex << v;
	return s.str();
}

struct Rela {
	size_t symidx;
	int64_t addend;
	uint32_t type;
};

// Everything needed to resolve pointer fields of the record sections.
class Resolver {
public:
	explicit Resolver(const ElfFile &f) : f_(f)
	{
		for (Elf_Scn *scn = elf_nextscn(f.elf(), nullptr); scn;
		     scn = elf_nextscn(f.elf(), scn)) {
			GElf_Shdr sh = f.shdr(scn);
			if (sh.sh_type == SHT_SYMTAB) {
				symtab_ = scn;
				strtab_ = sh.sh_link;
			}
		}
		if (!symtab_)
			throw Error(
			        Exit::not_module,
			        f.path() +
			                " has no symbol table; give an unstripped kernel module");
		Elf_Data *d = elf_getdata(symtab_, nullptr);
		GElf_Shdr sh = f.shdr(symtab_);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			if (!gelf_getsym(d, static_cast<int>(i), &s))
				break;
			syms_.push_back(s);
		}
		index_ = SymbolIndex(syms_);
	}

	const std::vector<GElf_Sym> &symbols() const { return syms_; }

	std::string sym_name(const GElf_Sym &s) const
	{
		const char *n = elf_strptr(f_.elf(), strtab_, s.st_name);
		return n ? n : "";
	}

	// Relocations that apply to section @target, by offset.
	std::map<uint64_t, Rela> relocations_for(Elf_Scn *target) const
	{
		std::map<uint64_t, Rela> out;
		size_t tidx = elf_ndxscn(target);
		for (Elf_Scn *scn = elf_nextscn(f_.elf(), nullptr); scn;
		     scn = elf_nextscn(f_.elf(), scn)) {
			GElf_Shdr sh = f_.shdr(scn);
			if (sh.sh_type != SHT_RELA || sh.sh_info != tidx)
				continue;
			Elf_Data *d = elf_getdata(scn, nullptr);
			size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
			for (size_t i = 0; i < n; i++) {
				GElf_Rela r;
				if (!gelf_getrela(d, static_cast<int>(i), &r))
					break;
				out[r.r_offset] =
				        Rela{GELF_R_SYM(r.r_info), r.r_addend,
				             static_cast<uint32_t>(GELF_R_TYPE(r.r_info))};
			}
		}
		return out;
	}

	// The pointer stored at @off of a section with raw bytes @raw and relocations @rel.
	Pointer pointer(const std::vector<unsigned char> &raw, const std::map<uint64_t, Rela> &rel,
	                uint64_t off) const
	{
		Pointer p;
		auto it = rel.find(off);
		if (it == rel.end()) {
			uint64_t v = 0;
			if (off + 8 <= raw.size())
				std::memcpy(&v, raw.data() + off, 8);
			if (v) {
				p.kind = Pointer::Kind::absolute;
				p.value = v;
			}
			return p;
		}
		if (it->second.type != R_X86_64_64)
			throw Error(
			        Exit::not_kp_patch,
			        f_.path() + ": kp record field at offset " + hex(off) +
			                " has relocation type " + std::to_string(it->second.type) +
			                " instead of R_X86_64_64; rebuild the patch with kp-build");
		if (it->second.symidx >= syms_.size())
			throw Error(Exit::not_module,
			            f_.path() + ": relocation against a missing symbol");
		const GElf_Sym &s = syms_[it->second.symidx];
		if (s.st_shndx == SHN_UNDEF) {
			p.kind = Pointer::Kind::external;
			p.symbol = sym_name(s);
			p.offset = it->second.addend;
			return p;
		}
		if (s.st_shndx == SHN_ABS || s.st_shndx >= SHN_LORESERVE) {
			p.kind = Pointer::Kind::absolute;
			p.value = s.st_value + static_cast<uint64_t>(it->second.addend);
			return p;
		}
		p.kind = Pointer::Kind::local;
		Elf_Scn *scn = elf_getscn(f_.elf(), s.st_shndx);
		p.section = f_.section_name(scn);
		p.shndx = s.st_shndx;
		uint64_t target = s.st_value + static_cast<uint64_t>(it->second.addend);
		p.value = target; // offset inside p.section
		// Name it after the nearest named symbol at or before it in that section.
		auto best = index_.nearest(s.st_shndx, target);
		if (best && sym_name(syms_[*best]).size() && sym_name(syms_[*best])[0] != '$') {
			p.symbol = sym_name(syms_[*best]);
			p.offset = static_cast<int64_t>(target - syms_[*best].st_value);
		} else {
			p.symbol = p.section;
			p.offset = static_cast<int64_t>(target);
		}
		return p;
	}

	// The NUL-terminated string a pointer field refers to.
	std::string string_at(const Pointer &p, const std::string &what) const
	{
		if (p.kind == Pointer::Kind::null)
			return "";
		if (p.kind != Pointer::Kind::local)
			throw Error(Exit::not_kp_patch, f_.path() + ": " + what +
			                                        " does not point into the module; "
			                                        "rebuild the patch with kp-build");
		const auto &raw = section_bytes(p.shndx);
		if (p.value >= raw.size())
			throw Error(Exit::not_kp_patch,
			            f_.path() + ": " + what + " points outside " + p.section);
		// Names are kernel symbol, module, release and build-ID strings: never longer
		// than a symbol name (KSYM_NAME_LEN).  The bound keeps each read short.
		auto begin = raw.begin() + static_cast<std::ptrdiff_t>(p.value);
		auto limit = raw.end() - begin > max_string ? begin + max_string : raw.end();
		auto end = std::find(begin, limit, '\0');
		if (end == limit)
			throw Error(Exit::not_kp_patch,
			            f_.path() + ": " + what + " in " + p.section + " at " +
			                    hex(p.value) +
			                    (limit == raw.end()
			                             ? " is not NUL-terminated"
			                             : " is longer than " +
			                                       std::to_string(max_string - 1) +
			                                       " bytes"));
		return std::string(begin, end);
	}

private:
	static constexpr std::ptrdiff_t max_string = 512; // KSYM_NAME_LEN, with the NUL

	// The bytes of section @shndx, read once however many strings point into it.
	const std::vector<unsigned char> &section_bytes(size_t shndx) const
	{
		auto it = bytes_.find(shndx);
		if (it == bytes_.end()) {
			Elf_Scn *scn = elf_getscn(f_.elf(), shndx);
			it = bytes_.emplace(shndx,
			                    scn ? f_.bytes(scn) : std::vector<unsigned char>{})
			             .first;
		}
		return it->second;
	}

	const ElfFile &f_;
	Elf_Scn *symtab_ = nullptr;
	size_t strtab_ = 0;
	std::vector<GElf_Sym> syms_;
	SymbolIndex index_{{}};
	mutable std::unordered_map<size_t, std::vector<unsigned char>> bytes_;
};

uint64_t u64_at(const std::vector<unsigned char> &raw, uint64_t off)
{
	uint64_t v = 0;
	if (off + 8 <= raw.size())
		std::memcpy(&v, raw.data() + off, 8);
	return v;
}

// One record section: its bytes, relocations, where its records start and how many.
struct RecordSection {
	std::vector<unsigned char> raw;
	std::map<uint64_t, Rela> rel;
	uint64_t begin = 0;
	size_t count = 0;
};

// Where the records of one kind are: from the kp_patch record's bounds (what the core
// reads), else, for a module without that record, the allocated section of that name.
struct RecordBounds {
	Pointer begin, end;
};

RecordSection record_section(const ElfFile &f, const Resolver &r, const char *name, size_t recsize,
                             const std::optional<RecordBounds> &bounds)
{
	RecordSection rs;
	Elf_Scn *scn = nullptr;
	uint64_t begin = 0, end = 0;
	if (bounds && bounds->begin.kind == Pointer::Kind::null &&
	    bounds->end.kind == Pointer::Kind::null)
		return rs; // none of this kind
	if (bounds) {
		const Pointer &b = bounds->begin, &e = bounds->end;
		if (b.kind != Pointer::Kind::local || e.kind != Pointer::Kind::local ||
		    b.shndx != e.shndx || e.value < b.value)
			throw Error(Exit::not_kp_patch,
			            f.path() + ": the kp_patch record's bounds of the " + name +
			                    " records (" + b.describe() + ", " + e.describe() +
			                    ") are not one range of the module; rebuild the patch "
			                    "with kp-build");
		scn = elf_getscn(f.elf(), b.shndx);
		begin = b.value;
		end = e.value;
	} else {
		scn = f.loaded_section(name);
		if (!scn)
			return rs;
		end = f.shdr(scn).sh_size;
	}
	rs.raw = f.bytes(scn);
	std::string where = "section " + f.section_name(scn);
	if (end > rs.raw.size())
		throw Error(Exit::not_kp_patch, f.path() + ": the " + name + " records end past " +
		                                        where +
		                                        "; rebuild the patch with kp-build");
	if ((end - begin) % recsize)
		throw Error(
		        Exit::not_kp_patch,
		        f.path() + ": the " + name + " records in " + where + " are " +
		                std::to_string(end - begin) + " bytes, not a multiple of the " +
		                std::to_string(recsize) +
		                "-byte record; the patch was built for another kp ABI, rebuild it");
	rs.rel = r.relocations_for(scn);
	rs.begin = begin;
	rs.count = (end - begin) / recsize;
	return rs;
}

// .modinfo: NUL-separated key=value strings.
void read_modinfo(const std::vector<unsigned char> &raw, ModuleInfo &m)
{
	size_t i = 0;
	while (i < raw.size()) {
		size_t end = i;
		while (end < raw.size() && raw[end])
			end++;
		std::string entry(raw.begin() + static_cast<std::ptrdiff_t>(i),
		                  raw.begin() + static_cast<std::ptrdiff_t>(end));
		if (!entry.empty()) {
			auto eq = entry.find('=');
			if (eq == std::string::npos)
				m.modinfo.emplace_back(entry, "");
			else
				m.modinfo.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
		}
		i = end + 1;
	}
}

// The module's name as the kernel takes it: struct module's name in
// .gnu.linkonce.this_module (modinfo's name= only labels the loader's early messages).
std::string this_module_name(const ElfFile &f, Elf_Scn *this_module)
{
	// struct module starts with state (4 bytes, padded to 8) and a list_head (16);
	// name is char[MODULE_NAME_LEN = 56].
	const size_t name_off = 24, name_len = 56;
	auto tm = f.bytes(this_module);
	auto b = tm.size() > name_off ? tm.begin() + name_off : tm.end();
	auto limit = tm.end() - b > static_cast<std::ptrdiff_t>(name_len) ? b + name_len : tm.end();
	auto nul = std::find(b, limit, '\0');
	if (b == tm.end() || nul == b || nul == limit)
		throw Error(Exit::not_module,
		            f.path() + ": .gnu.linkonce.this_module holds no module name "
		                       "(an empty or unterminated struct module name); give a .ko "
		                       "built by Kbuild");
	return std::string(b, nul);
}

} // namespace

std::string Pointer::describe() const
{
	switch (kind) {
	case Kind::null: return "(null)";
	case Kind::absolute: return hex(value);
	case Kind::local:
	case Kind::external: break;
	}
	if (offset > 0)
		return symbol + "+" + hex(static_cast<uint64_t>(offset));
	if (offset < 0)
		return symbol + "-" + hex(0 - static_cast<uint64_t>(offset)); // also for INT64_MIN
	return symbol;
}

std::string RelocRecord::type_name() const
{
	switch (type) {
	case R_X86_64_64: return "R_X86_64_64";
	case R_X86_64_PC32: return "R_X86_64_PC32";
	case R_X86_64_PLT32: return "R_X86_64_PLT32";
	case R_X86_64_32S: return "R_X86_64_32S";
	case R_X86_64_32: return "R_X86_64_32";
	default: return "type " + std::to_string(type);
	}
}

std::vector<std::string> ModuleInfo::modinfo_values(const std::string &key) const
{
	std::vector<std::string> out;
	for (const auto &[k, v] : modinfo)
		if (k == key)
			out.push_back(v);
	return out;
}

std::string normalize_module_name(std::string name)
{
	std::replace(name.begin(), name.end(), '-', '_');
	return name;
}

ModuleInfo read_module(const std::string &path, bool require_kp)
{
	return read_module(ModuleFd::open(path), require_kp);
}

namespace {

// The kp_patch record: checks it and returns the bounds of the record arrays.
struct PatchBounds {
	RecordBounds funcs, syms, relocs;
};

PatchBounds read_patch_record(const ElfFile &f, const Resolver &r, Elf_Scn *patch, ModuleInfo &m)
{
	const std::string &path = f.path();
	auto praw = f.bytes(patch);
	if (praw.size() < sizeof(kp_patch_rec))
		throw Error(
		        Exit::not_kp_patch,
		        path + ": kp_patch record is truncated; rebuild the patch with kp-build");
	if (u64_at(praw, offsetof(kp_patch_rec, magic)) != KP_PATCH_MAGIC)
		throw Error(Exit::not_kp_patch, path + ": kp_patch record has a bad magic; rebuild "
		                                       "the patch with kp-build");
	m.abi_version = u64_at(praw, offsetof(kp_patch_rec, abi_version));
	if (m.abi_version != KP_ABI_VERSION)
		throw Error(Exit::not_kp_patch,
		            path + ": patch uses kp ABI version " + std::to_string(m.abi_version) +
		                    " but this kpctl reads version " +
		                    std::to_string(KP_ABI_VERSION) +
		                    "; use the kpctl of the same kp release as kp-build");
	auto prel = r.relocations_for(patch);
	auto ptr = [&](size_t off) { return r.pointer(praw, prel, off); };
	m.record_name = r.string_at(ptr(offsetof(kp_patch_rec, name)), "patch name");
	std::string rec_release =
	        r.string_at(ptr(offsetof(kp_patch_rec, target_release)), "target release");
	std::string rec_build_id =
	        r.string_at(ptr(offsetof(kp_patch_rec, target_build_id)), "target build ID");
	if (m.target_release.empty())
		m.target_release = rec_release;
	if (m.target_build_id.empty())
		m.target_build_id = rec_build_id;
	if (!rec_build_id.empty() && rec_build_id != m.target_build_id)
		throw Error(Exit::not_kp_patch,
		            path + ": kp_patch record says build ID " + rec_build_id +
		                    " but modinfo says " + m.target_build_id +
		                    "; the file was altered, rebuild it with kp-build");
	// The core names the patch after the record (else the module); kpctl finds it by the
	// module's name.
	if (!m.record_name.empty() && m.record_name != m.name)
		throw Error(Exit::not_kp_patch,
		            path + ": kp_patch record names patch " + m.record_name +
		                    " but the module is " + m.name +
		                    "; the file was altered, rebuild it with kp-build");
	m.has_record = true;
	return {{ptr(offsetof(kp_patch_rec, funcs)), ptr(offsetof(kp_patch_rec, funcs_end))},
	        {ptr(offsetof(kp_patch_rec, syms)), ptr(offsetof(kp_patch_rec, syms_end))},
	        {ptr(offsetof(kp_patch_rec, relocs)), ptr(offsetof(kp_patch_rec, relocs_end))}};
}

void read_records(const ElfFile &f, const Resolver &r, const std::optional<PatchBounds> &b,
                  ModuleInfo &m)
{
	auto opt = [&](const RecordBounds PatchBounds::*which) {
		return b ? std::optional<RecordBounds>((*b).*which) : std::nullopt;
	};
	auto funcs =
	        record_section(f, r, KP_SEC_FUNCS, sizeof(kp_func_rec), opt(&PatchBounds::funcs));
	for (size_t k = 0; k < funcs.count; k++) {
		uint64_t base = funcs.begin + k * sizeof(kp_func_rec);
		auto ptr = [&](size_t off) { return r.pointer(funcs.raw, funcs.rel, base + off); };
		FuncRecord fr;
		fr.object =
		        r.string_at(ptr(offsetof(kp_func_rec, objname)), "kp_funcs object name");
		fr.function =
		        r.string_at(ptr(offsetof(kp_func_rec, name)), "kp_funcs function name");
		fr.sympos = u64_at(funcs.raw, base + offsetof(kp_func_rec, sympos));
		fr.old_size = u64_at(funcs.raw, base + offsetof(kp_func_rec, old_size));
		fr.new_func = ptr(offsetof(kp_func_rec, new_func));
		fr.new_size = u64_at(funcs.raw, base + offsetof(kp_func_rec, new_size));
		m.funcs.push_back(std::move(fr));
	}
	auto syms = record_section(f, r, KP_SEC_SYMS, sizeof(kp_sym_rec), opt(&PatchBounds::syms));
	for (size_t k = 0; k < syms.count; k++) {
		uint64_t base = syms.begin + k * sizeof(kp_sym_rec);
		auto ptr = [&](size_t off) { return r.pointer(syms.raw, syms.rel, base + off); };
		SymRecord sr;
		sr.object = r.string_at(ptr(offsetof(kp_sym_rec, objname)), "kp_syms object name");
		sr.symbol = r.string_at(ptr(offsetof(kp_sym_rec, name)), "kp_syms symbol name");
		sr.sympos = u64_at(syms.raw, base + offsetof(kp_sym_rec, sympos));
		sr.expected = ptr(offsetof(kp_sym_rec, addr));
		m.syms.push_back(std::move(sr));
	}
	auto relocs = record_section(f, r, KP_SEC_RELOCS, sizeof(kp_reloc_rec),
	                             opt(&PatchBounds::relocs));
	for (size_t k = 0; k < relocs.count; k++) {
		uint64_t base = relocs.begin + k * sizeof(kp_reloc_rec);
		auto ptr = [&](size_t off) {
			return r.pointer(relocs.raw, relocs.rel, base + off);
		};
		RelocRecord rr;
		rr.dest = ptr(offsetof(kp_reloc_rec, dest));
		rr.object =
		        r.string_at(ptr(offsetof(kp_reloc_rec, objname)), "kp_relocs object name");
		rr.symbol = r.string_at(ptr(offsetof(kp_reloc_rec, name)), "kp_relocs symbol name");
		rr.sympos = u64_at(relocs.raw, base + offsetof(kp_reloc_rec, sympos));
		rr.addend = static_cast<int64_t>(
		        u64_at(relocs.raw, base + offsetof(kp_reloc_rec, addend)));
		rr.type = u64_at(relocs.raw, base + offsetof(kp_reloc_rec, type));
		m.relocs.push_back(std::move(rr));
	}
}

} // namespace

ModuleInfo read_module(const ModuleFd &file, bool require_kp)
{
	const std::string &path = file.path();
	ElfFile f(file.fd(), path);
	ModuleInfo m;
	m.path = path;

	GElf_Ehdr eh = f.header();
	if (gelf_getclass(f.elf()) != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_REL)
		throw Error(Exit::not_module,
		            path + " is not an x86_64 kernel module (ELF64 relocatable); give a "
		                   ".ko built for this kernel");
	// The sections the kernel's module loader uses (find_sec: the first allocated one).
	Elf_Scn *modinfo = f.loaded_section(".modinfo");
	Elf_Scn *this_module = f.loaded_section(".gnu.linkonce.this_module");
	if (!modinfo || !this_module)
		throw Error(Exit::not_module,
		            path + " is an ELF object but not a kernel module (no .modinfo or "
		                   ".gnu.linkonce.this_module); give the .ko, not the .o");

	read_modinfo(f.bytes(modinfo), m);
	auto first = [&](const std::string &key) {
		auto v = m.modinfo_values(key);
		return v.empty() ? std::string() : v.front();
	};
	m.name = this_module_name(f, this_module);
	m.vermagic = first("vermagic");
	m.vermagic_release = m.vermagic.substr(0, m.vermagic.find(' '));

	Resolver r(f);
	for (const GElf_Sym &s : r.symbols()) {
		if (s.st_shndx == SHN_UNDEF && s.st_name) {
			std::string n = r.sym_name(s);
			if (!n.empty())
				m.undefined.push_back(n);
		}
	}
	std::sort(m.undefined.begin(), m.undefined.end());
	m.undefined.erase(std::unique(m.undefined.begin(), m.undefined.end()), m.undefined.end());

	m.target_release = first("kp_target_release");
	m.target_build_id = first("kp_target_build_id");
	for (const std::string &src : m.modinfo_values("kp_source")) {
		auto colon = src.rfind(':');
		if (colon == std::string::npos)
			m.sources.push_back({src, ""});
		else
			m.sources.push_back({src.substr(0, colon), src.substr(colon + 1)});
	}

	Elf_Scn *patch = f.loaded_section(KP_SEC_PATCH);
	m.kp_patch = patch || first("kp_patch") == "1";
	if (!m.kp_patch) {
		if (require_kp)
			throw Error(
			        Exit::not_kp_patch,
			        path + " (module " + m.name +
			                ") is not a kp patch: it has no kp_patch record; build "
			                "patches with kp-build, load other modules with insmod");
		return m;
	}
	std::optional<PatchBounds> bounds;
	if (patch)
		bounds = read_patch_record(f, r, patch, m);
	read_records(f, r, bounds, m);
	return m;
}

} // namespace kp::ctl
