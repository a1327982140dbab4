// Where the module loader puts a module's sections (kernel/module/main.c layout_sections):
// SHF_ALLOC sections not named .init*, in four passes (code, read-only data, read-only
// after init, writable data), each in section-header order, each section aligned to its
// sh_addralign.  The loader first marks .data..ro_after_init and __jump_table read-only
// after init.  That order is the address order kallsyms and the core see; symbol-table
// order is not.
//
// Up to 6.3 the four passes share one allocation (core_layout).  Since 6.4 each kind of
// memory is an allocation of its own (mem[MOD_TEXT], mem[MOD_DATA], mem[MOD_RODATA],
// mem[MOD_RO_AFTER_INIT], allocated in that order): offsets count within a kind, and the
// kinds are placed at notional bases in allocation order (kKindStride apart), so that
// address order within a kind is exact and between kinds the allocation order.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "elf/object.h"

namespace kp::ksym {

enum class ModuleMemory {
	one_core, // 6.1 .. 6.3: core_layout
	per_kind, // 6.4 and later: mem[]
};

// Distance between the notional bases of two kinds of memory (ModuleMemory::per_kind).
constexpr uint64_t kKindStride = uint64_t(1) << 40;

// The loader of the kernel @ko was built for, from its .modinfo vermagic ("6.12.118+deb12-
// cloud-amd64 SMP ..."): per_kind from 6.4; one_core for older kernels and for an object
// without vermagic.
ModuleMemory module_memory_of(const elf::Object &ko);

// Offset of each section in the module's core memory (index: section index); nullopt for
// sections that are not in it (init, non-ALLOC, .data..percpu).
std::vector<std::optional<uint64_t>> module_core_layout(const elf::Object &ko, ModuleMemory memory);
// The same for the loader @ko was built for (module_memory_of).
std::vector<std::optional<uint64_t>> module_core_layout(const elf::Object &ko);

// Whether module kallsyms keeps symbols of @sec after init (is_core_symbol, with
// CONFIG_KALLSYMS_ALL): core sections and .data..percpu.
bool module_keeps_symbols_of(const elf::Section &sec);

} // namespace kp::ksym
