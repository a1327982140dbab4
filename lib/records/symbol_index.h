// The nearest named symbol at or below an offset of a section, for naming the targets of
// relocated record pointers: built once in O(n log n), each lookup a binary search, so
// reading r records of an object with n symbols costs O((n + r) log n), not r x n.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "elf/object.h"

namespace kp::records {

class SymbolIndex {
public:
	// Indexes the named function, object and untyped symbols of @syms (a symbol table)
	// that are defined in a section.
	explicit SymbolIndex(const std::vector<std::unique_ptr<elf::Symbol>> &syms);

	// The symbol with the highest value <= @value in @sec (of several at that value, the
	// last function in symbol-table order, else the first), or nullptr.  Adds the number
	// of comparisons it made to *@probes when given.
	const elf::Symbol *nearest(const elf::Section *sec, uint64_t value,
	                           size_t *probes = nullptr) const;

private:
	struct Entries {
		std::vector<uint64_t> values;             // ascending, unique
		std::vector<const elf::Symbol *> symbols; // the one chosen for values[i]
	};
	std::unordered_map<const elf::Section *, Entries> sections_;
};

} // namespace kp::records
