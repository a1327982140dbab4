// Symbol-name rules shared by the stages: compiler suffixes, special statics, clones.
#pragma once
#include <string>
#include <string_view>

namespace kp::diffgen {

// The name without compiler or macro numbering: "count.123" -> "count",
// "__UNIQUE_ID_ddebug412" -> "__UNIQUE_ID_ddebug", "__BTF_ID__struct__bpf_stab__0815"
// -> "__BTF_ID__struct__bpf_stab__" (__COUNTER__ and __LINE__ pasted on),
// "__initcall__kmod_x__12_345_x_init6" -> "__initcall__kmod_x__x_init6".  Clone suffixes
// of functions (".isra.0", ".cold") are kept: they name different functions.
std::string canonical_name(std::string_view name);

// Statics that are never correlated and always included fresh (lockdep keys, WARN_ONCE
// flags, __func__, ratelimit states, switch tables, dynamic debug descriptors).
bool is_special_static(std::string_view name, std::string_view section);

// The parent function of a compiler clone ("f.cold" / "f.part.1" / "f.isra.0" /
// "f.constprop.0" and combinations), or "" when @name is no clone.
std::string clone_parent(std::string_view name);
// True for ".cold" parts: pieces of their parent, never called on their own.
bool is_cold_part(std::string_view name);

// Sections whose code or data is freed after boot.
bool is_init_section(std::string_view section);

// Helpers whose line-number argument may change without a functional change.
bool is_line_helper(std::string_view name);

} // namespace kp::diffgen
