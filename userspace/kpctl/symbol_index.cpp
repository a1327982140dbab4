#include "symbol_index.h"

#include <algorithm>
#include <tuple>

namespace kp::ctl {

SymbolIndex::SymbolIndex(const std::vector<GElf_Sym> &syms)
{
	struct Entry {
		size_t shndx;
		uint64_t value;
		size_t index;
	};
	std::vector<Entry> entries;
	for (size_t i = 0; i < syms.size(); i++) {
		const GElf_Sym &s = syms[i];
		int t = GELF_ST_TYPE(s.st_info);
		if (s.st_name == 0 || s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE ||
		    (t != STT_FUNC && t != STT_OBJECT && t != STT_NOTYPE))
			continue;
		entries.push_back({s.st_shndx, s.st_value, i});
	}
	std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
		return std::tie(a.shndx, a.value, a.index) < std::tie(b.shndx, b.value, b.index);
	});
	for (size_t i = 0; i < entries.size();) {
		// One group of symbols at the same value, in symbol-table order.
		size_t end = i;
		size_t chosen = entries[i].index;
		for (; end < entries.size() && entries[end].shndx == entries[i].shndx &&
		       entries[end].value == entries[i].value;
		     end++) {
			if (GELF_ST_TYPE(syms[entries[end].index].st_info) == STT_FUNC)
				chosen = entries[end].index;
		}
		Section &sec = sections_[entries[i].shndx];
		sec.values.push_back(entries[i].value);
		sec.symbol.push_back(chosen);
		i = end;
	}
}

std::optional<size_t> SymbolIndex::nearest(size_t shndx, uint64_t value, size_t *probes) const
{
	auto it = sections_.find(shndx);
	if (it == sections_.end())
		return std::nullopt;
	const Section &sec = it->second;
	size_t count = 0;
	auto above = std::upper_bound(sec.values.begin(), sec.values.end(), value,
	                              [&count](uint64_t v, uint64_t e) {
		                              count++;
		                              return v < e;
	                              });
	if (probes)
		*probes += count;
	if (above == sec.values.begin())
		return std::nullopt;
	return sec.symbol[static_cast<size_t>(above - sec.values.begin()) - 1];
}

} // namespace kp::ctl
