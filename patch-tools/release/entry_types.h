// DWARF for diffgen's special-section entry sizes when the target's vmlinux has none
// (kp-build keeps Debian's -dbg vmlinux without its DWARF: 83 MB instead of 1.75 GB). One
// object defining a variable of each entry type diffgen reads (.parainstructions'
// paravirt_patch_site, __ex_table's exception_table_entry, ...), compiled in the prepared
// tree like the release's modules: its config, compiler and flags, with -g. Built once per
// prepared tree, beside it.
#pragma once
#include <string>

namespace kp::build {

class Log;
struct PreparedTree;

// The C source: a variable of each struct type of diffgen's special_kinds(), under the
// config option that defines the type. Throws Error for a type it has no header for.
std::string entry_types_source();

// Returns the object's path; throws Error with the compiler's messages.
std::string ensure_entry_types(const PreparedTree &prepared, Log *log);

} // namespace kp::build
