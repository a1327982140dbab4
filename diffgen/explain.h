// --explain: a human report of a diffgen run.  For each replaced function the source
// file and line range (DWARF via libdwfl) and the differing instructions (Capstone);
// new functions; the references resolved at load time.
#pragma once
#include <string>
#include <vector>

#include "compare.h"
#include "select.h"
#include "special_sections.h"

namespace kp::diffgen {

std::string explain(const Selector &sel, const Comparison &cmp);

// Source location of function @name in object @path: "file:first-last", or "" if unknown.
std::string source_range(const std::string &path, const std::string &name);

// Instruction-level diff of two functions ("-"/"+" lines, relocation targets resolved).
std::vector<std::string> instruction_diff(const elf::Object &orig, const elf::Symbol *o,
                                          const elf::Object &patched, const elf::Symbol *p);

} // namespace kp::diffgen
