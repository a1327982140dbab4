#include "diffgen.h"

#include <filesystem>
#include <memory>

#include "compare.h"
#include "correlate.h"
#include "elf/object.h"
#include "endbr.h"
#include "entry_sizes.h"
#include "errors.h"
#include "explain.h"
#include "kp/abi.h"
#include "ksym/symbols.h"
#include "select.h"
#include "special_sections.h"
#include "write.h"

namespace kp::diffgen {

namespace {

// The target's symbols: the caller's table, else --symbols read now, else none.
const ksym::SymbolTable *target_symbols(const Options &opts,
                                        std::unique_ptr<ksym::SymbolTable> &owned)
{
	if (opts.symbol_table)
		return opts.symbol_table;
	if (!opts.symbols.empty())
		owned = take(ksym::SymbolTable::open(opts.symbols));
	return owned.get();
}

// Stage 5: special-section entries of included code, until they include nothing new.
void select_special_entries(Selector &sel, const elf::Object &patched, const Options &opts)
{
	std::vector<std::string> dwarf = opts.dwarf;
	// Entry sizes: the kernel image (or the target module) of the build, then the object.
	if (dwarf.empty() && !opts.symbols.empty())
		dwarf.push_back(opts.symbols);
	dwarf.push_back(patched.path());
	EntrySizes sizes(dwarf);
	size_t items;
	do {
		items = sel.selection().items.size();
		sel.include_special(
		        filter_special_sections(patched, sel.selection(), sizes, opts.regenerated));
	} while (sel.selection().items.size() != items);
}

void report_anchors(const Selection &sel, Result &res)
{
	for (const External &x : sel.externals)
		if (!x.anchor.empty())
			res.anchored.push_back(x.name + "," + std::to_string(x.sympos) + " = " +
			                       x.anchor + (x.anchor_delta < 0 ? "" : "+") +
			                       std::to_string(x.anchor_delta));
}

Result run_stages(const std::string &orig_path, const std::string &patched_path,
                  const std::string &out, const Options &opts)
{
	Result res;
	auto orig = take(elf::Object::open(orig_path));
	auto patched = take(elf::Object::open(patched_path));
	Correlation corr = correlate(*orig, *patched);
	Comparison cmp = Comparer(*orig, *patched, corr).run();
	for (const auto &f : cmp.line_only)
		res.messages.push_back(patched_path + ": " + f +
		                       ": only __LINE__ immediates changed (not a change)");
	if (cmp.changed_funcs.empty() && cmp.new_funcs.empty() && cmp.refusals.empty() &&
	    cmp.values.empty()) {
		res.failure = ErrorKind::no_change;
		res.messages.push_back(patched_path + ": no change");
		return res;
	}
	std::unique_ptr<ksym::SymbolTable> owned;
	Selector sel(*orig, *patched, corr, cmp, target_symbols(opts, owned), opts);
	sel.run();
	select_special_entries(sel, *patched, opts);
	if (opts.explain)
		res.explanation = explain(sel, cmp);
	std::vector<std::string> refusals = cmp.refusals;
	refusals.insert(refusals.end(), sel.selection().refusals.begin(),
	                sel.selection().refusals.end());
	std::vector<AddressTaken> addrs;
	if (const ksym::SymbolTable *target = sel.target()) {
		addrs = addresses_taken(sel.selection(), *orig, *target);
		auto sealed = sealed_endbr_refusals(addrs, sel.selection(), *patched, *target);
		refusals.insert(refusals.end(), sealed.begin(), sealed.end());
	}
	if (!refusals.empty()) {
		res.failure = ErrorKind::unsupported;
		res.messages.insert(res.messages.end(), refusals.begin(), refusals.end());
		return res;
	}
	for (const auto &f : sel.selection().funcs)
		res.replaced.push_back(f.orig->name);
	for (const auto *f : cmp.new_funcs)
		res.added.push_back(f->name);
	for (const SelectedValue &v : sel.selection().values)
		res.transferred.push_back(v.value->orig->name);
	report_anchors(sel.selection(), res);
	res.anchored_relocations = write_patch_object(sel.selection(), addrs, *patched, opts, out)
	                                   .anchored_relocations;
	res.failure.reset();
	return res;
}

} // namespace

Result run(const std::string &orig, const std::string &patched, const std::string &out,
           const Options &opts)
{
	Result res;
	std::error_code ec;
	for (const std::string &in : {orig, patched}) {
		if (in == out || std::filesystem::equivalent(in, out, ec)) {
			res.failure = ErrorKind::io;
			res.messages.push_back(out + ": the output would overwrite the input " +
			                       in);
			return res; // an error (kind io), and nothing removed
		}
	}
	try {
		res = run_stages(orig, patched, out, opts);
	} catch (const Error &e) {
		res.failure = e.kind();
		res.messages.push_back(e.what());
	} catch (const std::exception &e) {
		res.failure = ErrorKind::internal;
		res.messages.push_back(std::string("internal error: ") + e.what());
	}
	if (!res.changed()) {
		std::error_code ec;
		std::filesystem::remove(out, ec);
	}
	return res;
}

} // namespace kp::diffgen
