// What the caller asks of a diffgen run.
#pragma once
#include <string>
#include <vector>

namespace kp::diffgen {

struct Options {
	std::string target = "vmlinux";       // object the patch applies to: vmlinux or a module name
	std::string symbols;                  // target ELF (vmlinux or MODULE.ko), optional
	std::vector<std::string> dwarf;       // ELF files with DWARF for special-section entry sizes
	bool explain = false;
};

}  // namespace kp::diffgen
