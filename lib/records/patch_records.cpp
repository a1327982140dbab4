#include "records/patch_records.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <sstream>

#include "kp/abi.h"
#include "records/modinfo.h"
#include "records/symbol_index.h"

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
	Fields(const elf::Object &obj, const elf::Section &sec, const SymbolIndex &index)
	    : obj_(obj), sec_(sec), index_(index)
	{}

	std::vector<uint8_t> bytes(uint64_t off, uint64_t n) const
	{
		if (off + n > sec_.data.size())
			fail("record at offset " + hex(off) + " is truncated");
		return std::vector<uint8_t>(sec_.data.begin() + off, sec_.data.begin() + off + n);
	}
	[[noreturn]] void fail_at(const std::string &what) const { fail(what); }
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
	const SymbolIndex &index_;
};

// Names are kernel symbol, module, release and build-ID strings: never longer than a
// symbol name (KSYM_NAME_LEN = 512 with the NUL).  The bound keeps each read short.
constexpr size_t max_string = 511;

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
	const elf::Symbol *best = index_.nearest(s.sec, target);
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
	const auto &data = obj_.sections()[p.shndx]->data;
	if (p.value >= data.size())
		fail(std::string(what) + " points outside " + p.section);
	const char *b = reinterpret_cast<const char *>(data.data()) + p.value;
	size_t room = data.size() - p.value;
	size_t n = strnlen(b, std::min(room, max_string + 1));
	if (n == room)
		fail(std::string(what) + " in " + p.section + " at " + hex(p.value) +
		     " is not NUL-terminated");
	if (n > max_string)
		fail(std::string(what) + " in " + p.section + " at " + hex(p.value) +
		     " is longer than " + std::to_string(max_string) + " bytes");
	return std::string(b, n);
}

// One kind of record: the section holding them as Fields, where they start, how many.
struct RecordRange {
	std::optional<Fields> fields;
	uint64_t begin = 0;
	size_t count = 0;
};

// The pointers of a kp_patch record bounding one kind of record (funcs, funcs_end).
struct Bounds {
	Pointer begin, end;
};

class Reader {
public:
	explicit Reader(const elf::Object &obj) : obj_(obj), index_(obj.symbols()) {}

	PatchRecords run();

private:
	[[noreturn]] void fail(const std::string &what) const
	{
		throw RecordFailure{obj_.path() + ": " + what};
	}
	void read_patch(const elf::Section &sec, PatchRecords &out);
	RecordRange range(const char *name, size_t recsize, const std::optional<Bounds> &b) const;
	void read_funcs(const RecordRange &rs, PatchRecords &out) const;
	void read_syms(const RecordRange &rs, PatchRecords &out) const;
	void read_relocs(const RecordRange &rs, PatchRecords &out) const;
	void read_state_transfer(PatchRecords &out) const;
	void read_values(PatchRecords &out) const;
	void read_policy(PatchRecords &out) const;

	const elf::Object &obj_;
	SymbolIndex index_;
	std::optional<Bounds> funcs_, syms_, relocs_; // from kp_patch, when it has one
	std::optional<Bounds> callbacks_, states_, shadows_, values_, policy_;
};

// Where the records of one kind are: between the kp_patch record's bounds (what the core
// reads), else, in an object without that record, the allocated section of that name (the
// one the module loader would use).
RecordRange Reader::range(const char *name, size_t recsize, const std::optional<Bounds> &b) const
{
	RecordRange rs;
	const elf::Section *sec = nullptr;
	uint64_t begin = 0, end = 0;
	if (b) {
		if (b->begin.kind == Pointer::Kind::null && b->end.kind == Pointer::Kind::null)
			return rs; // none of this kind
		if (b->begin.kind != Pointer::Kind::local || b->end.kind != Pointer::Kind::local ||
		    b->begin.shndx != b->end.shndx || b->end.value < b->begin.value)
			fail(std::string("the kp_patch record's bounds of the ") + name +
			     " records (" + b->begin.describe() + ", " + b->end.describe() +
			     ") are not one range of the module; rebuild the patch with kp-build");
		sec = obj_.sections()[b->begin.shndx].get();
		begin = b->begin.value;
		end = b->end.value;
	} else {
		sec = obj_.loaded_section(name);
		if (!sec)
			return rs;
		end = sec->size();
	}
	if (end > sec->data.size())
		fail(std::string("the ") + name + " records end past section " + sec->name +
		     "; rebuild the patch with kp-build");
	if ((end - begin) % recsize)
		fail(std::string("the ") + name + " records in section " + sec->name + " are " +
		     std::to_string(end - begin) + " bytes, not a multiple of the " +
		     std::to_string(recsize) +
		     "-byte record; the patch was built for another kp ABI, rebuild it");
	rs.fields.emplace(obj_, *sec, index_);
	rs.begin = begin;
	rs.count = (end - begin) / recsize;
	return rs;
}

void Reader::read_patch(const elf::Section &sec, PatchRecords &out)
{
	if (sec.data.size() < sizeof(kp_patch_rec))
		fail("kp_patch record is truncated; rebuild the patch with kp-build");
	Fields f(obj_, sec, index_);
	if (f.u64(offsetof(kp_patch_rec, magic)) != KP_PATCH_MAGIC)
		fail("kp_patch record has a bad magic; rebuild the patch with kp-build");
	PatchRecord r;
	r.abi_version = f.u64(offsetof(kp_patch_rec, abi_version));
	if (r.abi_version != KP_ABI_VERSION)
		fail("patch uses kp ABI version " + std::to_string(r.abi_version) +
		     " but this tool reads version " + std::to_string(KP_ABI_VERSION) +
		     "; use the tools of the same kp release as kp-build");
	r.name = f.string(offsetof(kp_patch_rec, name), "patch name");
	r.target_release = f.string(offsetof(kp_patch_rec, target_release), "target release");
	r.target_build_id = f.string(offsetof(kp_patch_rec, target_build_id), "target build ID");
	r.set = f.string(offsetof(kp_patch_rec, set), "replace set");
	if (r.set.size() > KP_SET_NAME_MAX)
		fail("kp_patch record's replace set name is longer than " +
		     std::to_string(KP_SET_NAME_MAX) + " bytes; rebuild the patch with kp-build");
	uint64_t flags = f.u64(offsetof(kp_patch_rec, flags));
	if (flags & ~KP_PATCH_FLAGS)
		fail("kp_patch record has unknown flags " + hex(flags & ~KP_PATCH_FLAGS) +
		     "; use the tools of the same kp release as kp-build");
	r.replace = flags & KP_PATCH_REPLACE;
	// The core names the patch after the record (else the module); tools find it by the
	// module's name, so the two must agree.
	std::string module = this_module_name(obj_);
	if (!r.name.empty() && !module.empty() && r.name != module)
		fail("kp_patch record names patch " + r.name + " but the module is " + module +
		     "; the file was altered, rebuild it with kp-build");
	auto bounds = [&](size_t b, size_t e) { return Bounds{f.pointer(b), f.pointer(e)}; };
	funcs_ = bounds(offsetof(kp_patch_rec, funcs), offsetof(kp_patch_rec, funcs_end));
	syms_ = bounds(offsetof(kp_patch_rec, syms), offsetof(kp_patch_rec, syms_end));
	relocs_ = bounds(offsetof(kp_patch_rec, relocs), offsetof(kp_patch_rec, relocs_end));
	callbacks_ =
	        bounds(offsetof(kp_patch_rec, callbacks), offsetof(kp_patch_rec, callbacks_end));
	states_ = bounds(offsetof(kp_patch_rec, states), offsetof(kp_patch_rec, states_end));
	shadows_ = bounds(offsetof(kp_patch_rec, shadows), offsetof(kp_patch_rec, shadows_end));
	values_ = bounds(offsetof(kp_patch_rec, values), offsetof(kp_patch_rec, values_end));
	policy_ = bounds(offsetof(kp_patch_rec, policy), offsetof(kp_patch_rec, policy_end));
	out.patch = std::move(r);
}

void Reader::read_funcs(const RecordRange &rs, PatchRecords &out) const
{
	for (size_t k = 0; k < rs.count; k++) {
		const Fields &f = *rs.fields;
		uint64_t base = rs.begin + k * sizeof(kp_func_rec);
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

void Reader::read_syms(const RecordRange &rs, PatchRecords &out) const
{
	for (size_t k = 0; k < rs.count; k++) {
		const Fields &f = *rs.fields;
		uint64_t base = rs.begin + k * sizeof(kp_sym_rec);
		SymRecord r;
		r.object = f.string(base + offsetof(kp_sym_rec, objname), "kp_syms object name");
		r.symbol = f.string(base + offsetof(kp_sym_rec, name), "kp_syms symbol name");
		r.sympos = f.u64(base + offsetof(kp_sym_rec, sympos));
		r.expected = f.pointer(base + offsetof(kp_sym_rec, addr));
		out.syms.push_back(std::move(r));
	}
}

void Reader::read_relocs(const RecordRange &rs, PatchRecords &out) const
{
	for (size_t k = 0; k < rs.count; k++) {
		const Fields &f = *rs.fields;
		uint64_t base = rs.begin + k * sizeof(kp_reloc_rec);
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

// kp_callbacks, kp_states and kp_shadows (issue 15).
void Reader::read_state_transfer(PatchRecords &out) const
{
	RecordRange cbs = range(KP_SEC_CALLBACKS, sizeof(kp_callback_rec), callbacks_);
	for (size_t k = 0; k < cbs.count; k++) {
		uint64_t base = cbs.begin + k * sizeof(kp_callback_rec);
		const Fields &f = *cbs.fields;
		CallbackRecord r;
		r.object = f.string(base + offsetof(kp_callback_rec, objname),
		                    "kp_callbacks object name");
		r.pre_patch = f.pointer(base + offsetof(kp_callback_rec, pre_patch));
		r.post_patch = f.pointer(base + offsetof(kp_callback_rec, post_patch));
		r.pre_unpatch = f.pointer(base + offsetof(kp_callback_rec, pre_unpatch));
		r.post_unpatch = f.pointer(base + offsetof(kp_callback_rec, post_unpatch));
		out.callbacks.push_back(std::move(r));
	}
	RecordRange sts = range(KP_SEC_STATES, sizeof(kp_state_rec), states_);
	for (size_t k = 0; k < sts.count; k++) {
		uint64_t base = sts.begin + k * sizeof(kp_state_rec);
		out.states.push_back({sts.fields->u64(base + offsetof(kp_state_rec, id)),
		                      sts.fields->u64(base + offsetof(kp_state_rec, version))});
	}
	RecordRange shs = range(KP_SEC_SHADOWS, sizeof(kp_shadow_rec), shadows_);
	for (size_t k = 0; k < shs.count; k++) {
		uint64_t base = shs.begin + k * sizeof(kp_shadow_rec);
		out.shadows.push_back({shs.fields->u64(base + offsetof(kp_shadow_rec, id)),
		                       shs.fields->pointer(base + offsetof(kp_shadow_rec, dtor))});
	}
}

// kp_values: the variables whose new initial value the patch transfers.
void Reader::read_values(PatchRecords &out) const
{
	RecordRange vs = range(KP_SEC_VALUES, sizeof(kp_value_rec), values_);
	for (size_t k = 0; k < vs.count; k++) {
		uint64_t base = vs.begin + k * sizeof(kp_value_rec);
		const Fields &f = *vs.fields;
		ValueRecord r;
		r.object =
		        f.string(base + offsetof(kp_value_rec, objname), "kp_values object name");
		r.variable =
		        f.string(base + offsetof(kp_value_rec, name), "kp_values variable name");
		r.sympos = f.u64(base + offsetof(kp_value_rec, sympos));
		uint64_t size = f.u64(base + offsetof(kp_value_rec, size));
		if (size == 0 || size > KP_VALUE_MAX)
			f.fail_at("kp_values record of " + r.variable + " has size " +
			          std::to_string(size) + " (1 to " + std::to_string(KP_VALUE_MAX) +
			          " bytes)");
		r.old_value = f.bytes(base + offsetof(kp_value_rec, old_value), size);
		r.new_value = f.bytes(base + offsetof(kp_value_rec, new_value), size);
		out.values.push_back(std::move(r));
	}
}

// kp_policy: the faults that roll the patch back besides the default, ORed as the core
// does; an unknown kind is refused, as the core refuses it.
void Reader::read_policy(PatchRecords &out) const
{
	RecordRange ps = range(KP_SEC_POLICY, sizeof(kp_policy_rec), policy_);
	for (size_t k = 0; k < ps.count; k++) {
		uint64_t base = ps.begin + k * sizeof(kp_policy_rec);
		uint64_t kinds = ps.fields->u64(base + offsetof(kp_policy_rec, rollback_on));
		if (kinds & ~KP_ROLLBACK_ALL)
			ps.fields->fail_at("kp_policy record has unknown rollback kinds " +
			                   hex(kinds & ~KP_ROLLBACK_ALL));
		out.rollback_on |= kinds;
		uint64_t mode = ps.fields->u64(base + offsetof(kp_policy_rec, on_timeout));
		if (mode && on_timeout_text(mode).empty())
			ps.fields->fail_at("kp_policy record has unknown on_timeout " +
			                   std::to_string(mode));
		if (mode && out.on_timeout && mode != out.on_timeout)
			ps.fields->fail_at("kp_policy records ask for both on_timeout " +
			                   on_timeout_text(out.on_timeout) + " and " +
			                   on_timeout_text(mode));
		if (mode)
			out.on_timeout = mode;
	}
}

PatchRecords Reader::run()
{
	PatchRecords out;
	if (const elf::Section *patch = obj_.loaded_section(KP_SEC_PATCH))
		read_patch(*patch, out);
	read_funcs(range(KP_SEC_FUNCS, sizeof(kp_func_rec), funcs_), out);
	read_syms(range(KP_SEC_SYMS, sizeof(kp_sym_rec), syms_), out);
	read_relocs(range(KP_SEC_RELOCS, sizeof(kp_reloc_rec), relocs_), out);
	read_state_transfer(out);
	read_values(out);
	read_policy(out);
	return out;
}

} // namespace

namespace {

constexpr std::pair<uint64_t, const char *> rollback_kinds[] = {
        {KP_ROLLBACK_WARN, "warn"},
        {KP_ROLLBACK_STACK, "stack"},
};

} // namespace

std::string rollback_kinds_text(uint64_t kinds)
{
	std::string s;
	for (const auto &[bit, name] : rollback_kinds)
		if (kinds & bit)
			s += (s.empty() ? "" : ",") + std::string(name);
	return s;
}

std::string on_timeout_text(uint64_t on_timeout)
{
	switch (on_timeout) {
	case KP_ON_TIMEOUT_PENDING: return "pending";
	case KP_ON_TIMEOUT_REVERSE: return "reverse";
	default: return "";
	}
}

std::optional<uint64_t> parse_rollback_kinds(const std::string &text)
{
	uint64_t kinds = 0;
	std::istringstream in(text);
	for (std::string word; std::getline(in, word, ',');) {
		if (word.empty())
			continue;
		auto it = std::find_if(std::begin(rollback_kinds), std::end(rollback_kinds),
		                       [&](const auto &k) { return word == k.second; });
		if (it == std::end(rollback_kinds))
			return std::nullopt;
		kinds |= it->first;
	}
	return kinds;
}

std::string value_text(const std::vector<uint8_t> &bytes)
{
	std::ostringstream s;
	size_t n = bytes.size();
	if (n == 1 || n == 2 || n == 4 || n == 8) {
		uint64_t v = 0;
		for (size_t i = n; i-- > 0;)
			v = v << 8 | bytes[i];
		s << "0x" << std::hex << v;
		return s.str();
	}
	for (size_t i = 0; i < n; i++)
		s << (i ? " " : "") << std::hex << (bytes[i] >> 4) << (bytes[i] & 15);
	return s.str();
}

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
		return symbol + "-" + hex(0 - static_cast<uint64_t>(offset)); // also INT64_MIN
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
	try {
		return Reader(obj).run();
	} catch (const RecordFailure &f) {
		return Error(ErrorKind::records, f.message);
	}
}

} // namespace kp::records
