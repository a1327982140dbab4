// What a relocation points at, in terms the stages reason about: an item (function or
// data object symbol), an anonymous piece of a section (string literals, constants),
// or a symbol defined elsewhere.
#pragma once
#include <cstdint>

#include "elf/object.h"

namespace kp::diffgen {

// Offsets from untrusted addends: wrap instead of overflowing.
inline int64_t wrap_add(int64_t a, int64_t b)
{
	return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

struct Target {
	const elf::Symbol *item = nullptr; // covering function/object, if any
	const elf::Section *sec = nullptr; // section pointed into (null for undefined symbols)
	const elf::Symbol *sym = nullptr;  // the relocation's own symbol
	int64_t delta = 0;                 // addend relative to item (or to sec / sym when no item)
};

// @from_text: the relocation sits in code, where PC-relative addends are relative to
// the end of the instruction rather than to the relocated field.
Target resolve(const elf::Object &obj, const elf::Reloc &r, bool from_text);

} // namespace kp::diffgen
