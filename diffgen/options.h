// What the caller asks of a diffgen run.
#pragma once
#include <string>
#include <vector>

namespace kp::ksym {
class SymbolTable;
} // namespace kp::ksym

namespace kp::diffgen {

struct Options {
	std::string target = "vmlinux"; // object the patch applies to: vmlinux or a module name
	std::string symbols;            // target ELF (vmlinux or MODULE.ko), optional
	std::vector<std::string> dwarf; // ELF files with DWARF for special-section entry sizes
	bool explain = false;
	// Reach non-exported vmlinux symbols through exported anchors (needs --symbols
	// vmlinux): the object is then finished for kp-build's link.
	bool anchor = false;
	// A symbol table already read (kp-build shares vmlinux's among its jobs); else
	// @symbols is read.  Not owned.
	const ksym::SymbolTable *symbol_table = nullptr;
};

} // namespace kp::diffgen
