#include "diffgen.h"

#include <filesystem>
#include <memory>

#include "compare.h"
#include "correlate.h"
#include "elf/object.h"
#include "ksym/symbols.h"
#include "entry_sizes.h"
#include "errors.h"
#include "explain.h"
#include "kp/abi.h"
#include "select.h"
#include "special_sections.h"
#include "write.h"

namespace kp::diffgen {

namespace {

Result run_stages(const std::string &orig_path, const std::string &patched_path, const std::string &out,
		  const Options &opts)
{
	Result res;
	auto orig = take(elf::Object::open(orig_path));
	auto patched = take(elf::Object::open(patched_path));
	Correlation corr = correlate(*orig, *patched);
	Comparer comparer(*orig, *patched, corr);
	Comparison cmp = comparer.run();
	for (const auto &f : cmp.line_only)
		res.messages.push_back(patched_path + ": " + f + ": only __LINE__ immediates changed (not a change)");

	if (cmp.changed_funcs.empty() && cmp.new_funcs.empty() && cmp.refusals.empty()) {
		res.code = kNoChange;
		res.messages.push_back(patched_path + ": no change");
		return res;
	}
	std::unique_ptr<ksym::SymbolTable> target;
	if (!opts.symbols.empty())
		target = take(ksym::SymbolTable::open(opts.symbols));

	Selector sel(*orig, *patched, corr, cmp, target.get(), opts);
	sel.run();
	std::vector<std::string> dwarf = opts.dwarf;
	// Entry sizes: the kernel image (or the target module) of the build, then the object.
	if (dwarf.empty() && !opts.symbols.empty())
		dwarf.push_back(opts.symbols);
	dwarf.push_back(patched_path);
	EntrySizes sizes(dwarf);
	std::vector<KeptEntries> special = filter_special_sections(sel, sizes);

	std::vector<std::string> refusals = cmp.refusals;
	refusals.insert(refusals.end(), sel.selection().refusals.begin(), sel.selection().refusals.end());
	if (opts.explain)
		res.explanation = explain(sel, cmp, special);
	if (!refusals.empty()) {
		res.code = kUnsupported;
		res.messages.insert(res.messages.end(), refusals.begin(), refusals.end());
		return res;
	}
	for (const auto &f : sel.selection().funcs)
		res.replaced.push_back(f.orig->name);
	for (const auto *f : cmp.new_funcs)
		res.added.push_back(f->name);
	write_patch_object(sel, special, out);
	res.code = kChanged;
	return res;
}

}  // namespace

Result run(const std::string &orig, const std::string &patched, const std::string &out, const Options &opts)
{
	Result res;
	std::error_code ec;
	for (const std::string &in : {orig, patched}) {
		if (in == out || std::filesystem::equivalent(in, out, ec)) {
			res.messages.push_back(out + ": the output would overwrite the input " + in);
			return res;  // kError, and nothing removed
		}
	}
	try {
		res = run_stages(orig, patched, out, opts);
	} catch (const Unsupported &e) {
		res.code = kUnsupported;
		res.messages.push_back(e.what());
	} catch (const Error &e) {
		res.code = kError;
		res.messages.push_back(e.what());
	} catch (const std::exception &e) {
		res.code = kError;
		res.messages.push_back(std::string("internal error: ") + e.what());
	}
	if (res.code != kChanged) {
		std::error_code ec;
		std::filesystem::remove(out, ec);
	}
	return res;
}

}  // namespace kp::diffgen
