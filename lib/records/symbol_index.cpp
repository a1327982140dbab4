#include "records/symbol_index.h"

#include <algorithm>
#include <tuple>

namespace kp::records {

SymbolIndex::SymbolIndex(const std::vector<std::unique_ptr<elf::Symbol>> &syms)
{
	struct Entry {
		const elf::Section *sec;
		uint64_t value;
		size_t order;
	};
	std::vector<Entry> entries;
	for (size_t i = 0; i < syms.size(); i++) {
		const elf::Symbol &s = *syms[i];
		int t = s.type;
		if (s.name.empty() || !s.sec ||
		    (t != STT_FUNC && t != STT_OBJECT && t != STT_NOTYPE))
			continue;
		entries.push_back({s.sec, s.value, i});
	}
	std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
		return std::tie(a.sec, a.value, a.order) < std::tie(b.sec, b.value, b.order);
	});
	for (size_t i = 0; i < entries.size();) {
		// One group of symbols at the same value, in symbol-table order.
		size_t end = i;
		const elf::Symbol *chosen = syms[entries[i].order].get();
		for (; end < entries.size() && entries[end].sec == entries[i].sec &&
		       entries[end].value == entries[i].value;
		     end++) {
			if (syms[entries[end].order]->type == STT_FUNC)
				chosen = syms[entries[end].order].get();
		}
		Entries &e = sections_[entries[i].sec];
		e.values.push_back(entries[i].value);
		e.symbols.push_back(chosen);
		i = end;
	}
}

const elf::Symbol *SymbolIndex::nearest(const elf::Section *sec, uint64_t value,
                                        size_t *probes) const
{
	auto it = sections_.find(sec);
	if (it == sections_.end())
		return nullptr;
	const Entries &e = it->second;
	size_t count = 0;
	auto above = std::upper_bound(e.values.begin(), e.values.end(), value,
	                              [&count](uint64_t v, uint64_t x) {
		                              count++;
		                              return v < x;
	                              });
	if (probes)
		*probes += count;
	if (above == e.values.begin())
		return nullptr;
	return e.symbols[static_cast<size_t>(above - e.values.begin()) - 1];
}

} // namespace kp::records
