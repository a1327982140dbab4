// Stage 6: the output object.  Included items (one section each), pieces, filtered
// special sections, undefined symbols for the running kernel, and the kp_funcs /
// kp_syms records of include/kp/abi.h with their strings in .rodata.kp.
#pragma once
#include <string>
#include <vector>

#include "select.h"
#include "special_sections.h"

namespace kp::diffgen {

// Writes the patch object to @path (atomically: a temporary file renamed into place).
void write_patch_object(Selector &sel, const std::vector<KeptEntries> &special, const std::string &path);

}  // namespace kp::diffgen
