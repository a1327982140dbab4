#include "compare.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "names.h"
#include "references.h"

namespace kp::diffgen {

namespace {

std::string string_at(const elf::Section *sec, int64_t off, int64_t *start)
{
	if (off < 0 || static_cast<uint64_t>(off) >= sec->data.size()) {
		*start = off;
		return "<out of range>";
	}
	const auto &d = sec->data;
	size_t s = static_cast<size_t>(off);
	while (s > 0 && d[s - 1] != 0)
		s--;
	size_t e = static_cast<size_t>(off);
	while (e < d.size() && d[e] != 0)
		e++;
	*start = static_cast<int64_t>(s);
	return std::string(reinterpret_cast<const char *>(d.data() + s), e - s);
}

} // namespace

uint64_t Comparer::section_hash(const elf::Section *sec)
{
	auto it = hashes_.find(sec);
	if (it != hashes_.end())
		return it->second;
	uint64_t h = 1469598103934665603ULL ^ sec->size();
	for (uint8_t b : sec->data)
		h = (h ^ b) * 1099511628211ULL;
	hashes_[sec] = h;
	return h;
}

std::string Comparer::target_key(const elf::Object &obj, const elf::Reloc &r, bool from_text,
                                 bool patched_side)
{
	Target t = resolve(obj, r, from_text);
	std::string key = elf::reloc_type_name(r.type);
	key += std::to_string(r.type);
	if (t.item) {
		if (is_special_static(t.item->name, t.item->sec->name)) {
			key += " S:" + canonical_name(t.item->name);
		} else if (patched_side) {
			const elf::Symbol *o = corr_.twin(t.item);
			key += o ? " I:" + o->name : " N:" + t.item->name;
		} else {
			key += " I:" + t.item->name;
		}
		return key + "+" + std::to_string(t.delta);
	}
	if (t.sec) {
		if (t.sec->is_strings()) {
			int64_t off =
			        wrap_add(r.addend, r.sym->type == STT_SECTION
			                                   ? 0
			                                   : static_cast<int64_t>(r.sym->value));
			int64_t probe = wrap_add(off, from_text && elf::is_pcrel(r.type) ? 4 : 0);
			int64_t start = 0;
			std::string s = string_at(t.sec, probe, &start);
			return key + " STR:\"" + s + "\"+" + std::to_string(wrap_add(off, -start));
		}
		key += " A:" + canonical_name(t.sec->name) + "+" + std::to_string(t.delta);
		if ((t.sec->flags() & SHF_MERGE) && t.sec->shdr.sh_entsize && t.delta >= 0 &&
		    static_cast<uint64_t>(t.delta) <= t.sec->data.size() &&
		    t.sec->shdr.sh_entsize <= t.sec->data.size() - static_cast<uint64_t>(t.delta)) {
			key.append(":");
			key.append(reinterpret_cast<const char *>(t.sec->data.data() + t.delta),
			           t.sec->shdr.sh_entsize);
		} else {
			key += ":" + std::to_string(section_hash(t.sec));
		}
		return key;
	}
	return key + " U:" + t.sym->name + "+" + std::to_string(t.delta);
}

bool Comparer::same_relocs(const elf::Symbol *o, const elf::Symbol *p)
{
	auto [ob, oe] = o->sec->relocs_in(o->value, o->value + o->size);
	auto [pb, pe] = p->sec->relocs_in(p->value, p->value + p->size);
	if (oe - ob != pe - pb)
		return false;
	bool text = o->sec->is_text();
	for (; ob != oe; ++ob, ++pb) {
		if (ob->offset - o->value != pb->offset - p->value || ob->type != pb->type)
			return false;
		if (target_key(orig_, *ob, text, false) != target_key(patched_, *pb, text, true))
			return false;
	}
	return true;
}

bool Comparer::same_item(const elf::Symbol *o, const elf::Symbol *p, bool *line_only)
{
	*line_only = false;
	if (o->size != p->size || o->sec->is_nobits() != p->sec->is_nobits())
		return false;
	if (!same_relocs(o, p))
		return false;
	if (o->sec->is_nobits() || o->size == 0)
		return true;
	if (std::memcmp(o->sec->data.data() + o->value, p->sec->data.data() + p->value, o->size) ==
	    0)
		return true;
	if (o->is_func() && only_line_numbers_differ(orig_, o, patched_, p)) {
		*line_only = true;
		return true;
	}
	return false;
}

void Comparer::check_groups(Comparison &c)
{
	auto groups = [](const elf::Object &obj) {
		std::map<std::string, std::vector<std::string>> g;
		for (const auto &sec : obj.sections()) {
			if (!sec->is_group())
				continue;
			std::vector<std::string> members;
			for (size_t i = 4; i + 4 <= sec->data.size(); i += 4) {
				uint32_t idx;
				std::memcpy(&idx, sec->data.data() + i, 4);
				members.push_back(
				        idx < obj.sections().size()
				                ? canonical_name(obj.sections()[idx]->name)
				                : "?");
			}
			std::sort(members.begin(), members.end());
			std::string sig = sec->shdr.sh_info < obj.symbols().size()
			                          ? obj.symbols()[sec->shdr.sh_info]->name
			                          : "?";
			g[sig] = members;
		}
		return g;
	};
	auto og = groups(orig_), pg = groups(patched_);
	for (auto &[sig, members] : pg) {
		auto it = og.find(sig);
		if (it == og.end())
			c.refusals.push_back(patched_.path() + ": new section group " + sig);
		else if (it->second != members)
			c.refusals.push_back(patched_.path() + ": section group " + sig +
			                     " changed");
	}
	for (auto &[sig, members] : og)
		if (!pg.count(sig))
			c.refusals.push_back(patched_.path() + ": section group " + sig +
			                     " removed");
}

Comparison Comparer::run()
{
	Comparison c;
	std::unordered_map<std::string, const elf::Symbol *> patched_funcs;
	for (const auto &sp : patched_.symbols()) {
		const elf::Symbol *p = sp.get();
		if (!p->is_item())
			continue;
		if (p->is_func())
			patched_funcs.emplace(p->name, p->primary());
		if (p->is_alias())
			continue;
		if (is_special_static(p->name, p->sec->name)) {
			c.status[p] = Status::Special;
			continue;
		}
		const elf::Symbol *o = corr_.twin(p);
		if (!o) {
			c.status[p] = Status::New;
			// New .cold parts come in through their parent's references.
			if (p->is_func() && !is_cold_part(p->name))
				c.new_funcs.push_back(p);
			continue;
		}
		bool line_only = false;
		bool same = same_item(o, p, &line_only);
		c.status[p] = same ? Status::Same : Status::Changed;
		if (line_only)
			c.line_only.push_back(p->name);
	}
	// A changed clone (.cold, .part, .isra, .constprop) changes its parent.
	for (auto &[sym, st] : c.status) {
		if (st != Status::Changed || !sym->is_func())
			continue;
		std::string parent = clone_parent(sym->name);
		while (!parent.empty()) {
			auto it = patched_funcs.find(parent);
			if (it == patched_funcs.end())
				break;
			auto pst = c.status.find(it->second);
			if (pst != c.status.end() && pst->second == Status::Same)
				pst->second = Status::Changed;
			parent = clone_parent(parent);
		}
	}
	TransferMarks marks = transfer_marks(patched_);
	std::unordered_set<const elf::Symbol *> changed_vars;
	c.refusals.insert(c.refusals.end(), marks.refusals.begin(), marks.refusals.end());
	for (const auto &sp : patched_.symbols()) {
		const elf::Symbol *p = sp.get();
		if (!p->is_item() || p->is_alias() || c.of(p) != Status::Changed)
			continue;
		const std::string &sec = p->sec->name;
		if (p->is_func()) {
			if (is_init_section(sec)) {
				c.refusals.push_back(patched_.path() +
				                     ": changed __init code: function " + p->name +
				                     " in " + sec);
				continue;
			}
			if (!is_cold_part(p->name))
				c.changed_funcs.push_back(p);
		} else {
			changed_data(c, p, marks);
			changed_vars.insert(p);
		}
	}
	// A mark on a variable that is new or keeps its value is a mistake: say so.
	for (const auto &[item, name] : marks.items) {
		auto st = c.status.find(item);
		if (st != c.status.end() && st->second == Status::New)
			c.refusals.push_back(patched_.path() + ": KP_TRANSFER_VALUE(" + name +
			                     "): the variable is new in the patch; there is no "
			                     "live value to change");
		else if (!changed_vars.count(item))
			c.refusals.push_back(patched_.path() + ": KP_TRANSFER_VALUE(" + name +
			                     "): its initial value does not change");
	}
	check_groups(c);
	return c;
}

// A changed variable: refused, unless marked KP_TRANSFER_VALUE and transferable.
void Comparer::changed_data(Comparison &c, const elf::Symbol *p, const TransferMarks &marks)
{
	const std::string &sec = p->sec->name;
	if (!marks.items.count(p)) {
		c.refusals.push_back(patched_.path() + ": changed " +
		                     (is_init_section(sec) ? "__init " : "existing ") +
		                     "data: " + p->name + " in " + sec +
		                     " (existing data cannot be patched; a changed initial value "
		                     "can be transferred with KP_TRANSFER_VALUE)");
		return;
	}
	ValueCheck v = check_value_transfer(corr_.twin(p), patched_, p);
	if (!v.transfer) {
		c.refusals.push_back(v.refusal);
		return;
	}
	c.status[p] = Status::Same; // the patch's code refers to the live variable
	c.values.push_back(std::move(*v.transfer));
}

bool has_ftrace_entry(const elf::Object &obj, const elf::Symbol *func)
{
	auto [b, e] =
	        func->sec->relocs_in(func->value, func->value + std::min<uint64_t>(func->size, 16));
	for (; b != e; ++b)
		if (b->sym->name == "__fentry__" || b->sym->name == "mcount")
			return true;
	if (const elf::Section *mc = obj.section("__mcount_loc")) {
		for (const auto &r : mc->relocs) {
			if (r.sym->sec != func->sec)
				continue;
			int64_t off = wrap_add(
			        r.addend, static_cast<int64_t>(
			                          r.sym->type == STT_SECTION ? 0 : r.sym->value));
			if (off >= static_cast<int64_t>(func->value) &&
			    off < static_cast<int64_t>(func->value + 16))
				return true;
		}
	}
	return false;
}

} // namespace kp::diffgen
