// Stage 6: the output object.  Included items (one section each), pieces, filtered
// special sections, undefined symbols for the running kernel, and the kp_funcs /
// kp_syms / kp_relocs / kp_values / kp_addrs records of include/kp/abi.h with their
// strings in .rodata.kp.
#pragma once
#include <string>
#include <vector>

#include "endbr.h"
#include "select.h"

namespace kp::diffgen {

struct WriteSummary {
	size_t anchored_relocations = 0; // relocations against an anchor (Options::anchor)
};

// Writes the finished selection @sel of @patched to @path (atomically: a temporary file
// renamed into place).  Selects nothing: every relocation's target is in Selection::refs;
// @addrs (the sealed-ENDBR gate's) become kp_addrs records where the target has ENDBR.
WriteSummary write_patch_object(const Selection &sel, const std::vector<AddressTaken> &addrs,
                                const elf::Object &patched, const Options &opts,
                                const std::string &path);

} // namespace kp::diffgen
