// Typed views of the patch records of include/kp/abi.h (kp_patch, kp_funcs, kp_syms,
// kp_relocs, kp_callbacks, kp_states, kp_shadows, kp_values, kp_policy) in a diffgen output object
// or a linked patch module: each record's bytes with its pointer fields resolved by the section's
// relocations, as the module loader would apply them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "elf/object.h"
#include "support/error.h"

namespace kp::records {

// The value of a relocated 64-bit pointer field.
struct Pointer {
	enum class Kind { null, local, external, absolute } kind = Kind::null;
	std::string symbol; // local: nearest named symbol (or the section); external: the undefined
	                    // symbol
	int64_t offset = 0; // from symbol
	std::string section; // local: the section pointed into
	size_t shndx = 0;    // local: its index
	uint64_t value = 0;  // local: offset in section; absolute: the value

	std::string describe() const; // "sym", "sym+0x10", "sym-0x4", "0x1234", "(null)"
};

struct FuncRecord {
	std::string object, function;
	uint64_t sympos = 0, old_size = 0, new_size = 0;
	Pointer new_func;
};

struct SymRecord {
	std::string object, symbol;
	uint64_t sympos = 0;
	Pointer expected; // exported anchor + distance, or the undefined symbol itself
};

struct RelocRecord {
	Pointer dest;
	std::string object, symbol;
	uint64_t sympos = 0;
	int64_t addend = 0;
	uint64_t type = 0;
	std::string type_name() const;
};

// kp_callbacks: the callbacks of one object (any may be null).
struct CallbackRecord {
	std::string object;
	Pointer pre_patch, post_patch, pre_unpatch, post_unpatch;
};

// kp_states: a system state the patch creates or takes over.
struct StateRecord {
	uint64_t id = 0, version = 0;
};

// kp_shadows: a shadow variable id the patch declares, with its destructor.
struct ShadowRecord {
	uint64_t id = 0;
	Pointer dtor;
};

// kp_values: a global whose changed initial value the patch transfers into the live one.
struct ValueRecord {
	std::string object, variable;
	uint64_t sympos = 0;
	std::vector<uint8_t> old_value, new_value; // size bytes each
};

// A value as kpctl and the core's sysfs show it: a 1, 2, 4 or 8-byte value as the
// little-endian integer it is ("0xfffd"), anything else as its bytes ("01 02 03").
std::string value_text(const std::vector<uint8_t> &bytes);

struct PatchRecord {
	uint64_t abi_version = 0;
	std::string name, target_release, target_build_id;
	std::string set;      // replace set; empty: the default set
	bool replace = false; // KP_PATCH_REPLACE: replaces the earlier patches of its set
};

struct PatchRecords {
	std::optional<PatchRecord> patch; // kp_patch (linked modules only)
	std::vector<FuncRecord> funcs;
	std::vector<SymRecord> syms;
	std::vector<RelocRecord> relocs;
	std::vector<CallbackRecord> callbacks;
	std::vector<StateRecord> states;
	std::vector<ShadowRecord> shadows;
	std::vector<ValueRecord> values;
	uint64_t rollback_on = 0; // kp_policy: KP_ROLLBACK_* of every record, ORed
	uint64_t on_timeout = 0;  // kp_policy: KP_ON_TIMEOUT_* the records agree on (0: none)
};

// "warn,stack" for KP_ROLLBACK_* bits (empty for none), and back; nullopt for an unknown
// kind.  kpctl's --rollback-on and the core's <patch>/rollback_on use these names.
std::string rollback_kinds_text(uint64_t kinds);
std::optional<uint64_t> parse_rollback_kinds(const std::string &text);

// "pending" or "reverse" for KP_ON_TIMEOUT_* (kpctl's --on-timeout and the core's
// <patch>/on_timeout use these names); empty for another value.
std::string on_timeout_text(uint64_t on_timeout);

// Reads every record @obj has: in a linked module those between the kp_patch record's
// bounds (what the core reads), sections found as the module loader finds them.  Strings
// longer than 511 bytes (KSYM_NAME_LEN) are refused, as is a kp_patch record naming a
// patch other than the module (struct module's name).  Error(records) names the file, section and
// field when a section is not a whole number of records, a pointer field carries a
// relocation other than R_X86_64_64, a string is out of range, or kp_patch has a bad
// magic or ABI version, and a kp_values record whose size is 0 or above KP_VALUE_MAX.
Expected<PatchRecords> read_patch_records(const elf::Object &obj);

} // namespace kp::records
