// kp_funcs / kp_syms / kp_relocs of a diffgen output object, read with kp::records (the
// reader kpctl and kp-build use) and flattened for the tests' comparisons.
#include <stdexcept>
#include <string>
#include <vector>

#include "elf/object.h"
#include "helpers.h"
#include "records/patch_records.h"

namespace kp::test {

namespace {

records::PatchRecords records_of(const elf::Object &o)
{
	auto r = records::read_patch_records(o);
	if (!r)
		throw std::runtime_error(r.error().message());
	return std::move(r).value();
}

// What a pointer field names: the symbol it is relocated against (functions, undefined
// symbols) or "<no reloc>".
std::string pointee(const records::Pointer &p)
{
	return p.kind == records::Pointer::Kind::null ? "<no reloc>" : p.symbol;
}

} // namespace

std::unique_ptr<elf::Object> load_object(const std::string &path)
{
	auto o = elf::Object::open(path);
	if (!o)
		throw std::runtime_error(o.error().message());
	return std::move(o).value();
}

void read_relocs(const elf::Object &o, std::vector<RelocRec> &relocs)
{
	for (const auto &r : records_of(o).relocs) {
		std::string dest = r.dest.kind == records::Pointer::Kind::local
		                           ? r.dest.section + "+" + std::to_string(r.dest.value)
		                           : "<none>";
		relocs.push_back({dest, r.object, r.symbol, r.sympos, r.addend, r.type});
	}
}

void read_records(const elf::Object &o, std::vector<FuncRec> &funcs, std::vector<SymRec> &syms)
{
	auto recs = records_of(o);
	for (const auto &f : recs.funcs)
		funcs.push_back({f.object, f.function, pointee(f.new_func), f.sympos, f.old_size,
		                 f.new_size});
	for (const auto &s : recs.syms)
		syms.push_back({s.object, s.symbol, pointee(s.expected), s.sympos});
}

} // namespace kp::test
