// A minimal x86_64 kernel-module ELF built byte by byte, for inputs no compiler makes:
// many records, many symbols, a large string section, extreme addends, names that
// disagree, two sections of one name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kp::ctl::test {

struct CraftedModule {
	size_t records = 1;         // kp_funcs records, record i replacing "f<i>" of vmlinux
	size_t symbols = 1;         // functions func_<i> at .text + 16 i
	size_t string_section = 64; // bytes of the section the record strings are in
	int64_t addend = 3;         // new_func of record i = .text + 16 i + addend
	std::string module_name = "kp_crafted";  // in struct module (.gnu.linkonce.this_module)
	std::string modinfo_name = "kp_crafted"; // modinfo name=
	bool patch_record = false; // a kp_patch record whose funcs bounds cover kp_funcs
	std::string record_name;   // the record's patch name; "" = module_name
	std::string record_set;    // the record's replace set; "" = none (the default set)
	uint64_t record_flags = 0; // the record's flags (KP_PATCH_*)
	// Another kp_funcs section before the real one, with one record replacing "decoy":
	// allocated (the record's bounds point past it) or not (the module loader ignores it).
	enum class Decoy { none, allocated, not_allocated } decoy = Decoy::none;
};

// The bytes of an ET_REL module with modinfo kp_patch=1.
std::string crafted_module(const CraftedModule &spec);

} // namespace kp::ctl::test
