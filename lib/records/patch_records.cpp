#include "records/patch_records.h"

#include <cstddef>
#include <cstring>
#include <sstream>

#include "kp/abi.h"

namespace kp::records {

namespace {

std::string hex(uint64_t v)
{
	std::ostringstream s;
	s << "0x" << std::hex << v;
	return s.str();
}

// Thrown inside the reader only; read_patch_records returns it as an Error value.
struct RecordFailure {
	std::string message;
};

// One record section: its bytes and relocations, and how its fields read.
class Fields {
public:
	Fields(const elf::Object &obj, const elf::Section &sec) : obj_(obj), sec_(sec) {}

	uint64_t u64(uint64_t off) const
	{
		uint64_t v = 0;
		if (off + 8 <= sec_.data.size())
			std::memcpy(&v, sec_.data.data() + off, 8);
		return v;
	}
	Pointer pointer(uint64_t off) const;
	std::string string(uint64_t off, const char *what) const;

private:
	[[noreturn]] void fail(const std::string &what) const
	{
		throw RecordFailure{obj_.path() + ": section " + sec_.name + ": " + what};
	}
	void name_local(Pointer &p, const elf::Symbol &s, uint64_t target) const;

	const elf::Object &obj_;
	const elf::Section &sec_;
};

Pointer Fields::pointer(uint64_t off) const
{
	Pointer p;
	auto [b, e] = sec_.relocs_in(off, off + 1);
	if (b == e) {
		p.value = u64(off);
		if (p.value)
			p.kind = Pointer::Kind::absolute;
		return p;
	}
	if (b->type != R_X86_64_64)
		fail("field at offset " + hex(off) + " has relocation type " +
		     std::to_string(b->type) +
		     " instead of R_X86_64_64; rebuild the patch with kp-build");
	const elf::Symbol &s = *b->sym;
	if (s.is_undefined()) {
		p.kind = Pointer::Kind::external;
		p.symbol = s.name;
		p.offset = b->addend;
		return p;
	}
	if (!s.sec) {
		p.kind = Pointer::Kind::absolute;
		p.value = s.value + static_cast<uint64_t>(b->addend);
		return p;
	}
	p.kind = Pointer::Kind::local;
	p.section = s.sec->name;
	p.shndx = s.sec->index;
	p.value = s.value + static_cast<uint64_t>(b->addend);
	name_local(p, s, p.value);
	return p;
}

// Names a local pointer after the nearest named symbol at or before it in its section.
void Fields::name_local(Pointer &p, const elf::Symbol &s, uint64_t target) const
{
	const elf::Symbol *best = nullptr;
	for (const auto &c : obj_.symbols()) {
		int t = c->type;
		if (c->sec != s.sec || c->name.empty() ||
		    (t != STT_FUNC && t != STT_OBJECT && t != STT_NOTYPE) || c->value > target)
			continue;
		if (!best || c->value > best->value ||
		    (c->value == best->value && t == STT_FUNC && best->type != STT_FUNC))
			best = c.get();
	}
	if (best && best->name[0] != '$') {
		p.symbol = best->name;
		p.offset = static_cast<int64_t>(target - best->value);
	} else {
		p.symbol = p.section;
		p.offset = static_cast<int64_t>(target);
	}
}

std::string Fields::string(uint64_t off, const char *what) const
{
	Pointer p = pointer(off);
	if (p.kind == Pointer::Kind::null)
		return "";
	if (p.kind != Pointer::Kind::local)
		fail(std::string(what) +
		     " does not point into the module; rebuild the patch with kp-build");
	auto s = obj_.sections()[p.shndx]->string_at(p.value);
	if (!s)
		fail(std::string(what) + " points outside " + p.section +
		     " or is not NUL-terminated");
	return std::string(*s);
}

// The record section @name as Fields and its record count; nullopt when absent.
std::optional<std::pair<Fields, size_t>> record_section(const elf::Object &obj, const char *name,
                                                        size_t recsize)
{
	const elf::Section *sec = obj.section(name);
	if (!sec)
		return std::nullopt;
	if (sec->data.size() % recsize)
		throw RecordFailure{
		        obj.path() + ": section " + name + " is " +
		        std::to_string(sec->data.size()) + " bytes, not a multiple of the " +
		        std::to_string(recsize) +
		        "-byte record; the patch was built for another kp ABI, rebuild it"};
	return std::make_pair(Fields(obj, *sec), sec->data.size() / recsize);
}

std::optional<PatchRecord> read_patch(const elf::Object &obj)
{
	const elf::Section *sec = obj.section(KP_SEC_PATCH);
	if (!sec)
		return std::nullopt;
	auto fail = [&](const std::string &what) {
		throw RecordFailure{obj.path() + ": kp_patch record " + what};
	};
	if (sec->data.size() < sizeof(kp_patch_rec))
		fail("is truncated; rebuild the patch with kp-build");
	Fields f(obj, *sec);
	if (f.u64(offsetof(kp_patch_rec, magic)) != KP_PATCH_MAGIC)
		fail("has a bad magic; rebuild the patch with kp-build");
	PatchRecord r;
	r.abi_version = f.u64(offsetof(kp_patch_rec, abi_version));
	if (r.abi_version != KP_ABI_VERSION)
		fail("uses kp ABI version " + std::to_string(r.abi_version) +
		     " but this tool reads version " + std::to_string(KP_ABI_VERSION) +
		     "; use the tools of the same kp release as kp-build");
	r.name = f.string(offsetof(kp_patch_rec, name), "patch name");
	r.target_release = f.string(offsetof(kp_patch_rec, target_release), "target release");
	r.target_build_id = f.string(offsetof(kp_patch_rec, target_build_id), "target build ID");
	return r;
}

void read_funcs(const elf::Object &obj, PatchRecords &out)
{
	auto rs = record_section(obj, KP_SEC_FUNCS, sizeof(kp_func_rec));
	for (size_t k = 0; rs && k < rs->second; k++) {
		const Fields &f = rs->first;
		uint64_t base = k * sizeof(kp_func_rec);
		FuncRecord r;
		r.object = f.string(base + offsetof(kp_func_rec, objname), "kp_funcs object name");
		r.function = f.string(base + offsetof(kp_func_rec, name), "kp_funcs function name");
		r.sympos = f.u64(base + offsetof(kp_func_rec, sympos));
		r.old_size = f.u64(base + offsetof(kp_func_rec, old_size));
		r.new_func = f.pointer(base + offsetof(kp_func_rec, new_func));
		r.new_size = f.u64(base + offsetof(kp_func_rec, new_size));
		out.funcs.push_back(std::move(r));
	}
}

void read_syms(const elf::Object &obj, PatchRecords &out)
{
	auto rs = record_section(obj, KP_SEC_SYMS, sizeof(kp_sym_rec));
	for (size_t k = 0; rs && k < rs->second; k++) {
		const Fields &f = rs->first;
		uint64_t base = k * sizeof(kp_sym_rec);
		SymRecord r;
		r.object = f.string(base + offsetof(kp_sym_rec, objname), "kp_syms object name");
		r.symbol = f.string(base + offsetof(kp_sym_rec, name), "kp_syms symbol name");
		r.sympos = f.u64(base + offsetof(kp_sym_rec, sympos));
		r.expected = f.pointer(base + offsetof(kp_sym_rec, addr));
		out.syms.push_back(std::move(r));
	}
}

void read_relocs(const elf::Object &obj, PatchRecords &out)
{
	auto rs = record_section(obj, KP_SEC_RELOCS, sizeof(kp_reloc_rec));
	for (size_t k = 0; rs && k < rs->second; k++) {
		const Fields &f = rs->first;
		uint64_t base = k * sizeof(kp_reloc_rec);
		RelocRecord r;
		r.dest = f.pointer(base + offsetof(kp_reloc_rec, dest));
		r.object =
		        f.string(base + offsetof(kp_reloc_rec, objname), "kp_relocs object name");
		r.symbol = f.string(base + offsetof(kp_reloc_rec, name), "kp_relocs symbol name");
		r.sympos = f.u64(base + offsetof(kp_reloc_rec, sympos));
		r.addend = static_cast<int64_t>(f.u64(base + offsetof(kp_reloc_rec, addend)));
		r.type = f.u64(base + offsetof(kp_reloc_rec, type));
		out.relocs.push_back(std::move(r));
	}
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
		return symbol + "-" + hex(static_cast<uint64_t>(-offset));
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

Expected<PatchRecords> read_patch_records(const elf::Object &obj)
{
	PatchRecords out;
	try {
		out.patch = read_patch(obj);
		read_funcs(obj, out);
		read_syms(obj, out);
		read_relocs(obj, out);
	} catch (const RecordFailure &f) {
		return Error(ErrorKind::records, f.message);
	}
	return out;
}

} // namespace kp::records
