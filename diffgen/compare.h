// Stage 3: decide, item by item, what changed between the original and patched object.
#pragma once
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "correlate.h"
#include "elf/object.h"
#include "values.h"

namespace kp::diffgen {

enum class Status { Same, Changed, New, Special };

struct Comparison {
	std::unordered_map<const elf::Symbol *, Status> status; // every patched item
	std::vector<const elf::Symbol *> changed_funcs;         // patched side, existing in both
	std::vector<const elf::Symbol *> new_funcs;             // patched only
	std::vector<std::string> refusals;                      // unsupported changes found
	std::vector<std::string> line_only; // functions with __LINE__-only changes
	// Changed globals marked KP_TRANSFER_VALUE: their status is Same (the patch
	// refers to the live variable) and a kp_values record carries the new value.
	std::vector<ValueTransfer> values;

	Status of(const elf::Symbol *patched_item) const
	{
		auto it = status.find(patched_item->primary());
		return it == status.end() ? Status::Same : it->second;
	}
};

class Comparer {
public:
	Comparer(const elf::Object &orig, const elf::Object &patched, const Correlation &corr)
	    : orig_(orig), patched_(patched), corr_(corr)
	{}
	Comparison run();

	// Identity of a relocation's target, comparable across the two objects.
	std::string target_key(const elf::Object &obj, const elf::Reloc &r, bool from_text,
	                       bool patched_side);

private:
	bool same_item(const elf::Symbol *o, const elf::Symbol *p, bool *line_only);
	bool same_relocs(const elf::Symbol *o, const elf::Symbol *p);
	void check_groups(Comparison &c);
	void changed_data(Comparison &c, const elf::Symbol *p, const TransferMarks &marks);
	uint64_t section_hash(const elf::Section *sec);

	const elf::Object &orig_, &patched_;
	const Correlation &corr_;
	std::unordered_map<const elf::Section *, uint64_t> hashes_;
};

// True when @func (a function item) starts with a call to __fentry__ recorded for ftrace.
bool has_ftrace_entry(const elf::Object &obj, const elf::Symbol *func);

// True when the differing bytes of two functions with identical relocations are only the
// line-number immediates loaded right before calls to WARN/printk/might_sleep helpers.
bool only_line_numbers_differ(const elf::Object &orig, const elf::Symbol *o,
                              const elf::Object &patched, const elf::Symbol *p);

} // namespace kp::diffgen
