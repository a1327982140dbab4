// Stage 5: special sections of the patched object, filtered entry by entry to the
// entries that belong to included functions.  Entry sizes come from entry_sizes.h.
#pragma once
#include <string>
#include <vector>

#include "entry_sizes.h"
#include "select.h"

namespace kp::diffgen {

struct KeptEntries {
	const elf::Section *sec;
	uint64_t entsize;
	std::vector<uint64_t> entries;  // entry indices, in order
};

// Decides the kept entries of every special section (.orc_unwind follows
// .orc_unwind_ip), includes what they reference, and returns them.
std::vector<KeptEntries> filter_special_sections(Selector &sel, EntrySizes &sizes);

}  // namespace kp::diffgen
