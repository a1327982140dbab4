// A minimal x86_64 kernel-module ELF built byte by byte, for inputs no compiler makes:
// many records, many symbols, a large string section, extreme addends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kpctl_test {

struct CraftedModule {
	size_t records = 1;          // kp_funcs records, record i replacing "f<i>" of vmlinux
	size_t symbols = 1;          // functions func_<i> at .text + 16 i
	size_t string_section = 64;  // bytes of the section the record strings are in
	int64_t addend = 3;          // new_func of record i = .text + 16 i + addend
};

// The bytes of an ET_REL module named "kp_crafted" with modinfo kp_patch=1.
std::string crafted_module(const CraftedModule &spec);

} // namespace kpctl_test
