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
	// Special sections objtool makes again for the whole linked patch module (a kernel
	// with X86_KERNEL_IBT runs it on a module's pre-link object): not carried over from
	// the object, where objtool already ran on a single-file module's object.
	std::vector<std::string> regenerated;
};

} // namespace kp::diffgen
