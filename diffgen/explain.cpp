#include "explain.h"

#include <capstone/capstone.h>
#include <elfutils/libdwfl.h>

#include <algorithm>
#include <climits>
#include <dwarf.h>
#include <memory>
#include <sstream>
#include <unordered_set>

#include "dwfl_offline.h"
#include "names.h"
#include "references.h"

namespace kp::diffgen {

namespace {

struct FindFunc {
	const char *name;
	std::string result;
};

int visit_cu_funcs(Dwarf_Die *cu, const char *name, std::string &out)
{
	Dwarf_Die die;
	if (dwarf_child(cu, &die) != 0)
		return 0;
	do {
		if (dwarf_tag(&die) != DW_TAG_subprogram)
			continue;
		const char *nm = dwarf_diename(&die);
		if (!nm || std::string(nm) != name)
			continue;
		Dwarf_Addr lo = 0, hi = 0;
		if (dwarf_lowpc(&die, &lo) != 0 || dwarf_highpc(&die, &hi) != 0)
			continue; // declaration or fully inlined
		const char *file = dwarf_decl_file(&die);
		Dwarf_Lines *lines = nullptr;
		size_t n = 0;
		int first = INT_MAX, last = 0;
		if (dwarf_getsrclines(cu, &lines, &n) == 0) {
			for (size_t i = 0; i < n; i++) {
				Dwarf_Line *l = dwarf_onesrcline(lines, i);
				Dwarf_Addr a;
				int ln;
				if (dwarf_lineaddr(l, &a) || dwarf_lineno(l, &ln) || a < lo ||
				    a >= hi)
					continue;
				// Lines of inlined code from headers are not this function's range.
				const char *src = dwarf_linesrc(l, nullptr, nullptr);
				if (file && (!src || std::string(src) != file))
					continue;
				first = std::min(first, ln);
				last = std::max(last, ln);
			}
		}
		int decl = 0;
		dwarf_decl_line(&die, &decl);
		if (first == INT_MAX)
			first = last = decl;
		out = std::string(file ? file : "?") + ":" +
		      std::to_string(std::min(first, decl ? decl : first)) + "-" +
		      std::to_string(last);
		return 1;
	} while (dwarf_siblingof(&die, &die) == 0);
	return 0;
}

std::vector<std::string> disassemble(const elf::Object &obj, const elf::Symbol *f)
{
	std::vector<std::string> out;
	if (f->sec->is_nobits())
		return out;
	csh h;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return out;
	cs_insn *insn = nullptr;
	size_t n = cs_disasm(h, f->sec->data.data() + f->value, f->size, 0, 0, &insn);
	for (size_t i = 0; i < n && i < 4000; i++) {
		std::string line = std::string(insn[i].mnemonic) + " " + insn[i].op_str;
		auto [b, e] = f->sec->relocs_in(f->value + insn[i].address,
		                                f->value + insn[i].address + insn[i].size);
		for (; b != e; ++b) {
			Target t = resolve(obj, *b, true);
			line += "  <" + (t.item ? canonical_name(t.item->name) : t.sym->name) +
			        "+" + std::to_string(t.delta) + ">";
		}
		out.push_back(line);
	}
	if (insn)
		cs_free(insn, n);
	cs_close(&h);
	return out;
}

} // namespace

std::string source_range(const std::string &path, const std::string &name)
{
	std::unique_ptr<Dwfl, DwflCloser> dwfl(dwfl_begin(&dwfl_offline_callbacks));
	if (!dwfl)
		return "";
	Dwfl_Module *mod = dwfl_report_offline(dwfl.get(), "obj", path.c_str(), -1);
	dwfl_report_end(dwfl.get(), nullptr, nullptr);
	if (!mod)
		return "";
	Dwarf_Addr bias = 0;
	Dwarf *dw = dwfl_module_getdwarf(mod, &bias);
	if (!dw)
		return "";
	Dwarf_Off off = 0, next = 0;
	size_t hsize = 0;
	std::string out;
	while (dwarf_nextcu(dw, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
		Dwarf_Die cu;
		if (dwarf_offdie(dw, off + hsize, &cu) && visit_cu_funcs(&cu, name.c_str(), out))
			return out;
		off = next;
	}
	return "";
}

std::vector<std::string> instruction_diff(const elf::Object &orig, const elf::Symbol *o,
                                          const elf::Object &patched, const elf::Symbol *p)
{
	auto a = disassemble(orig, o), b = disassemble(patched, p);
	// LCS over instruction text.
	size_t n = a.size(), m = b.size();
	std::vector<std::vector<uint16_t>> L(n + 1, std::vector<uint16_t>(m + 1, 0));
	for (size_t i = n; i-- > 0;)
		for (size_t j = m; j-- > 0;)
			L[i][j] = a[i] == b[j] ? L[i + 1][j + 1] + 1
			                       : std::max(L[i + 1][j], L[i][j + 1]);
	std::vector<std::string> out;
	size_t i = 0, j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && a[i] == b[j]) {
			i++, j++;
		} else if (j < m && (i == n || L[i][j + 1] >= L[i + 1][j])) {
			out.push_back("+ " + b[j++]);
		} else {
			out.push_back("- " + a[i++]);
		}
	}
	return out;
}

std::string explain(const Selector &sel, const Comparison &cmp)
{
	std::ostringstream os;
	const Selection &s = sel.selection();
	os << "diffgen: " << sel.orig().path() << " -> " << sel.patched().path() << " (target "
	   << sel.options().target << ")\n";
	os << "changed functions: " << s.funcs.size() << "\n";
	for (const auto &f : s.funcs) {
		std::string where = source_range(sel.patched().path(), f.patched->name);
		for (const auto *alias : f.patched->aliases)
			if (where.empty())
				where = source_range(sel.patched().path(), alias->name);
		os << "  " << f.orig->name << " (sympos " << f.sympos << ", " << f.orig->size
		   << " -> " << f.patched->size << " bytes)"
		   << (where.empty() ? "" : " at " + where) << "\n";
		for (const auto &l : instruction_diff(sel.orig(), f.orig, sel.patched(), f.patched))
			os << "      " << l << "\n";
	}
	os << "new functions: " << cmp.new_funcs.size() << "\n";
	for (const auto *f : cmp.new_funcs) {
		std::string where = source_range(sel.patched().path(), f->name);
		os << "  " << f->name << (where.empty() ? "" : " at " + where) << "\n";
	}
	{
		std::unordered_set<const elf::Symbol *> named;
		for (const auto &f : s.funcs)
			named.insert(f.patched);
		for (const auto *f : cmp.new_funcs)
			named.insert(f);
		for (const auto *item : s.items)
			if (item->is_func() && !named.count(item))
				os << "carried without redirect (no ftrace entry or .cold part; "
				      "its callers are replaced): "
				   << item->name << "\n";
	}
	for (const auto &l : cmp.line_only)
		os << "__LINE__-only change ignored: " << l << "\n";
	os << "included data and pieces:\n";
	for (const auto *item : s.items)
		if (!item->is_func())
			os << "  " << item->name << " (" << item->sec->name << ", " << item->size
			   << " bytes)\n";
	for (const auto *piece : s.pieces)
		os << "  " << piece->name << " (" << piece->size() << " bytes)\n";
	os << "special sections:\n";
	for (const auto &k : s.special)
		os << "  " << k.sec->name << ": " << k.entries.size() << " of "
		   << k.sec->size() / k.entsize << " entries (" << k.entsize << " bytes each)\n";
	os << "resolved at load time: " << s.externals.size() << "\n";
	for (const auto &x : s.externals) {
		os << "  " << x.out_name << " -> " << sel.options().target << ":" << x.name << ","
		   << x.sympos << (x.local ? " local" : " global");
		if (sel.target())
			os << (x.found ? (x.exported ? " exported (module loader)"
			                             : " not exported (kp_syms, anchor)")
			               : " not in target");
		if (!x.anchor.empty())
			os << " = " << x.anchor << (x.anchor_delta < 0 ? "" : "+")
			   << x.anchor_delta;
		else
			os << " (kp_syms; exports unknown without --symbols)";
		os << "; used by";
		for (const auto &u : x.users)
			os << " " << u;
		os << "\n";
	}
	for (const auto &r : s.refusals)
		os << "refused: " << r << "\n";
	for (const auto &r : cmp.refusals)
		os << "refused: " << r << "\n";
	return os.str();
}

} // namespace kp::diffgen
