// libdwfl opened on files (not a running process), as entry_sizes.cpp and explain.cpp
// read DWARF: offline reporting applies the relocations of ET_REL debug sections (string
// offsets of an object's DWARF are relocations until linked).
#pragma once
#include <elfutils/libdwfl.h>

#include <memory>

namespace kp::diffgen {

inline char *dwfl_debuginfo_path = nullptr;
inline const Dwfl_Callbacks dwfl_offline_callbacks = {
        dwfl_build_id_find_elf,
        dwfl_standard_find_debuginfo,
        dwfl_offline_section_address,
        &dwfl_debuginfo_path,
};

struct DwflCloser {
	void operator()(Dwfl *d) const { dwfl_end(d); }
};

// A Dwfl session for offline reporting, ended with its owner.
using DwflSession = std::unique_ptr<Dwfl, DwflCloser>;

} // namespace kp::diffgen
