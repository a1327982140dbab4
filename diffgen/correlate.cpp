#include "correlate.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "names.h"
#include "references.h"

namespace kp::diffgen {

namespace {

using Groups = std::unordered_map<std::string, std::vector<const elf::Symbol *>>;

Groups group_items(const elf::Object &obj)
{
	Groups g;
	for (const auto &s : obj.symbols()) {
		if (!s->is_item() || s->is_alias() || is_special_static(s->name, s->sec->name))
			continue;
		std::string key = s->is_func() ? "F:" : "O:";
		key += s->is_local() ? canonical_name(s->name) : s->name;
		g[key].push_back(s.get());
	}
	return g;
}

// For each data item: the (canonical) names of the functions referring to it.
std::unordered_map<const elf::Symbol *, std::set<std::string>> referencers(const elf::Object &obj)
{
	std::unordered_map<const elf::Symbol *, std::set<std::string>> refs;
	for (const auto &sec : obj.sections()) {
		if (sec->relocs.empty() || !(sec->flags() & SHF_ALLOC))
			continue;
		for (const auto &r : sec->relocs) {
			Target t = resolve(obj, r, sec->is_text());
			if (!t.item || t.item->is_func())
				continue;
			const elf::Symbol *from = obj.item_at(sec.get(), r.offset);
			refs[t.item].insert(from ? canonical_name(from->name) : sec->name);
		}
	}
	return refs;
}

} // namespace

Correlation correlate(const elf::Object &orig, const elf::Object &patched)
{
	Correlation c;
	Groups og = group_items(orig), pg = group_items(patched);
	std::unordered_map<const elf::Symbol *, std::set<std::string>> orefs, prefs;
	bool have_refs = false;
	for (auto &[key, olist] : og) {
		auto it = pg.find(key);
		if (it == pg.end())
			continue;
		auto &plist = it->second;
		if (olist.size() == 1 && plist.size() == 1) {
			c.pair(olist[0], plist[0]);
			continue;
		}
		// Same-named statics: exact name first, then by referencing functions.
		if (!have_refs) {
			orefs = referencers(orig);
			prefs = referencers(patched);
			have_refs = true;
		}
		std::vector<const elf::Symbol *> ol = olist, pl = plist;
		auto take = [&](auto match) {
			for (auto &o : ol) {
				if (!o)
					continue;
				for (auto &p : pl) {
					if (p && match(o, p)) {
						c.pair(o, p);
						o = p = nullptr;
						break;
					}
				}
			}
		};
		take([&](const elf::Symbol *o, const elf::Symbol *p) {
			return !orefs[o].empty() && orefs[o] == prefs[p];
		});
		take([&](const elf::Symbol *o, const elf::Symbol *p) {
			const auto &a = orefs[o], &b = prefs[p];
			return std::any_of(a.begin(), a.end(),
			                   [&](const std::string &n) { return b.count(n); });
		});
		take([](const elf::Symbol *o, const elf::Symbol *p) { return o->name == p->name; });
	}
	return c;
}

} // namespace kp::diffgen
