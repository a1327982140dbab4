// Stage 2: pair the functions and data objects of the original and patched objects.
#pragma once
#include <unordered_map>

#include "elf/object.h"

namespace kp::diffgen {

class Correlation {
public:
	const elf::Symbol *twin(const elf::Symbol *s) const
	{
		auto it = twins_.find(s);
		return it == twins_.end() ? nullptr : it->second;
	}
	void pair(const elf::Symbol *orig, const elf::Symbol *patched)
	{
		twins_[orig] = patched;
		twins_[patched] = orig;
	}
	size_t pairs() const { return twins_.size() / 2; }

private:
	std::unordered_map<const elf::Symbol *, const elf::Symbol *> twins_;
};

// Items are matched by name (compiler numbering ignored); static locals sharing one
// name are told apart by the functions that reference them.  Special statics are
// never paired.
Correlation correlate(const elf::Object &orig, const elf::Object &patched);

} // namespace kp::diffgen
