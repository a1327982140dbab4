// After stage 5: the sealed-ENDBR gate (IBT kernels).  objtool seals the ENDBR of every target
// function whose address the target never takes, and the kernel poisons it at boot or
// module load; a patch that newly takes the address of such a function (or of one with
// no ENDBR) faults with #CP at the first indirect call through it, on CPUs that enforce
// IBT.  The gate finds each address the patch takes of a target function and refuses
// the sealed ones, naming the user and the function.
#pragma once
#include <string>
#include <vector>

#include "elf/object.h"
#include "ksym/symbols.h"
#include "select.h"

namespace kp::diffgen {

// A target function whose address an included item or piece takes.
struct AddressTaken {
	std::string user;    // the included function, or the data section that holds it
	size_t external = 0; // index into Selection::externals
	ksym::SymbolTable::Endbr endbr = ksym::SymbolTable::Endbr::unknown;
};

// Every address of a target function the selection takes (not calls or jumps to it).
std::vector<AddressTaken> addresses_taken(const Selection &sel, const elf::Object &orig,
                                          const ksym::SymbolTable &target);
// One refusal per sealed (or ENDBR-less) function whose address @taken holds.
std::vector<std::string> sealed_endbr_refusals(const std::vector<AddressTaken> &taken,
                                               const Selection &sel, const elf::Object &patched,
                                               const ksym::SymbolTable &target);

} // namespace kp::diffgen
