// Where the module loader puts a module's sections (kernel/module/main.c layout_sections
// in 6.1): SHF_ALLOC sections not named .init*, in four passes (code, read-only data,
// read-only after init, writable data), each in section-header order, each section
// aligned to its sh_addralign, all in one allocation on x86_64.  That order is the
// address order kallsyms and the core see; symbol-table order is not.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "elf/object.h"

namespace kp::ksym {

// Offset of each section in the module's core allocation (index: section index);
// nullopt for sections that are not in it (init, non-ALLOC, .data..percpu).
std::vector<std::optional<uint64_t>> module_core_layout(const elf::Object &ko);

// Whether module kallsyms keeps symbols of @sec after init (is_core_symbol, with
// CONFIG_KALLSYMS_ALL): core sections and .data..percpu.
bool module_keeps_symbols_of(const elf::Section &sec);

} // namespace kp::ksym
