// The nearest named symbol at or below an address of a section, for naming the
// targets of a module's relocated pointers: built once in O(n log n), each lookup a
// binary search, so reading r records of a module with n symbols costs
// O((n + r) log n) instead of r x n.
#pragma once

#include <gelf.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace kp::ctl {

class SymbolIndex {
public:
	// Indexes the function, object and untyped symbols with a name of @syms (a symbol
	// table, by index) that are defined in a section.
	explicit SymbolIndex(const std::vector<GElf_Sym> &syms);

	// The index in @syms of the symbol with the highest value <= @value in section
	// @shndx (of several at that value, the last function, else the first), or
	// nullopt.  Adds the number of comparisons it made to *@probes when given.
	std::optional<size_t> nearest(size_t shndx, uint64_t value, size_t *probes = nullptr) const;

private:
	struct Section {
		std::vector<uint64_t> values; // ascending, unique
		std::vector<size_t> symbol;   // the symbol chosen for values[i]
	};
	std::unordered_map<size_t, Section> sections_;
};

} // namespace kp::ctl
