// Stage 5: special sections of the patched object, filtered entry by entry to the
// entries that belong to included functions.  Entry sizes come from entry_sizes.h.
#pragma once
#include <string>
#include <vector>

#include "entry_sizes.h"
#include "select.h"

namespace kp::diffgen {

// Decides the kept entries of every special section of @obj (.orc_unwind follows
// .orc_unwind_ip): those whose first field points into an item of @sel.  Reads the
// selection only; Selector::include_special takes the result.  Sections named in
// @regenerated (objtool makes them again for the linked module) are left out.
std::vector<KeptEntries> filter_special_sections(const elf::Object &obj, const Selection &sel,
                                                 EntrySizes &sizes,
                                                 const std::vector<std::string> &regenerated = {});

} // namespace kp::diffgen
