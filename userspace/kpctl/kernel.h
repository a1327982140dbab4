// Facts about the running kernel: GNU build ID and UTS release.
#pragma once

#include <string>

namespace kp::ctl {

// Hex GNU build ID of the running vmlinux, from <sysfs>/kernel/notes.
// Throws Error(internal) if it cannot be read.
std::string running_build_id();

// Parses an ELF note section (the content of /sys/kernel/notes) for NT_GNU_BUILD_ID.
// Empty when there is none.
std::string build_id_from_notes(const std::string &notes);

// uname -r
std::string running_release();

} // namespace kp::ctl
