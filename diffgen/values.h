// Opt-in value transfer (KP_TRANSFER_VALUE, kmod/patch/kp-value.h): which changed globals
// the patch author marked, and whether each one can be transferred as plain bytes.
#pragma once
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "elf/object.h"

namespace kp::diffgen {

// A global of the target whose initial value the patch changes and transfers.
struct ValueTransfer {
	const elf::Symbol *orig;    // the variable in the original object
	const elf::Symbol *patched; // the same variable in the patched object
	std::vector<uint8_t> old_value, new_value;
};

// The marks of @patched's .discard.kp.transfer_value section: each marked item with the
// marker's name (for messages), or, for a mark that names no variable of this object,
// a refusal.
struct TransferMarks {
	std::unordered_map<const elf::Symbol *, std::string> items;
	std::vector<std::string> refusals;
};
TransferMarks transfer_marks(const elf::Object &patched);

// The transfer of changed variable @o (original) -> @p (patched), or why it cannot be
// transferred: not plain writable data (const/rodata, per-cpu, __init, ro_after_init,
// TLS), a changed size, bigger than KP_VALUE_MAX, or a value holding an address.
struct ValueCheck {
	std::optional<ValueTransfer> transfer;
	std::string refusal;
};
ValueCheck check_value_transfer(const elf::Symbol *o, const elf::Object &patched,
                                const elf::Symbol *p);

} // namespace kp::diffgen
