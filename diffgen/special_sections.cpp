#include "special_sections.h"

#include <algorithm>

#include "errors.h"
#include "kp/abi.h"
#include "names.h"

namespace kp::diffgen {

namespace {

// The entry belongs to an included function when its first field points into one.
bool belongs(const elf::Object &obj, const Selection &sel, const elf::Section *sec, uint64_t begin,
             uint64_t end)
{
	auto [b, e] = sec->relocs_in(begin, end);
	if (b == e || b->offset != begin)
		return false;
	Target t = resolve(obj, *b, false);
	return t.item && sel.item_set.count(t.item);
}

// Arrays of one relocated scalar per entry (s32 sites, unsigned long addresses): the
// width of the relocation every entry carries, when it is uniform and tiles the section.
std::optional<uint64_t> array_entry_size(const elf::Section &sec)
{
	if (sec.relocs.empty())
		return std::nullopt;
	uint64_t width = 0;
	for (const auto &r : sec.relocs) {
		uint64_t w =
		        r.type == R_X86_64_64 || r.type == R_X86_64_PC64 ? 8
		        : r.type == R_X86_64_PC32 || r.type == R_X86_64_32 || r.type == R_X86_64_32S
		                ? 4
		                : 0;
		if (!w || (width && w != width))
			return std::nullopt;
		width = w;
	}
	if (sec.relocs.size() * width != sec.data.size())
		return std::nullopt;
	for (size_t i = 0; i < sec.relocs.size(); i++)
		if (sec.relocs[i].offset != i * width)
			return std::nullopt;
	return width;
}

} // namespace

std::vector<KeptEntries> filter_special_sections(const elf::Object &obj, const Selection &sel,
                                                 EntrySizes &sizes,
                                                 const std::vector<std::string> &regenerated)
{
	std::vector<KeptEntries> kept;
	for (const auto &sp : obj.sections()) {
		const elf::Section *sec = sp.get();
		const SpecialKind *kind = special_kind(sec->name);
		if (!kind || sec->name == ".orc_unwind" || sec->data.empty() ||
		    std::find(regenerated.begin(), regenerated.end(), sec->name) !=
		            regenerated.end())
			continue;
		uint64_t entsize = sec->shdr.sh_entsize;
		if (!entsize) {
			// Scalar arrays: the relocation each entry carries fixes the width;
			// structs: DWARF.
			std::optional<uint64_t> s;
			if (!kind->is_struct)
				s = array_entry_size(*sec);
			if (!s)
				s = sizes.size_of(*kind);
			if (!s) {
				// Unknown size only matters when some entry refers to included
				// code.
				bool relevant = false;
				for (const auto &r : sec->relocs) {
					Target t = resolve(obj, r, false);
					if (t.item && sel.item_set.count(t.item)) {
						relevant = true;
						break;
					}
				}
				if (!relevant)
					continue;
				std::string from;
				for (const auto &f : sizes.files())
					from += (from.empty() ? "" : ", ") + f;
				throw Error(
				        obj.path() + ": section " + sec->name +
				        ": entry size unknown: no DWARF type '" + kind->type_name +
				        "' in " +
				        (from.empty() ? "any DWARF input (pass --kernel)" : from));
			}
			entsize = *s;
		}
		if (sec->data.size() % entsize)
			throw Error(obj.path() + ": section " + sec->name + ": size " +
			            std::to_string(sec->data.size()) +
			            " is not a multiple of the entry size " +
			            std::to_string(entsize));
		KeptEntries k{sec, entsize, {}};
		for (uint64_t i = 0; i < sec->data.size() / entsize; i++)
			if (belongs(obj, sel, sec, i * entsize, (i + 1) * entsize))
				k.entries.push_back(i);
		if (k.entries.empty())
			continue;
		if (sec->name == ".orc_unwind_ip") {
			const elf::Section *orc = obj.section(".orc_unwind");
			if (!orc)
				throw Error(obj.path() + ": .orc_unwind_ip without .orc_unwind");
			// Parallel arrays: one orc_entry per ip entry, so the size follows from the
			// two sections; DWARF's struct orc_entry only when .orc_unwind_ip is empty.
			uint64_t n = sec->data.size() / entsize;
			auto s = orc->shdr.sh_entsize
			                 ? std::optional<uint64_t>(orc->shdr.sh_entsize)
			         : n && orc->data.size() % n == 0
			                 ? std::optional<uint64_t>(orc->data.size() / n)
			                 : sizes.size_of(*special_kind(".orc_unwind"));
			if (!s)
				throw Error(obj.path() + ": section .orc_unwind: entry size "
				                         "unknown: no DWARF type 'orc_entry'");
			if (orc->data.size() != *s * (sec->data.size() / entsize))
				throw Error(obj.path() + ": .orc_unwind and .orc_unwind_ip "
				                         "disagree on the entry count");
			kept.push_back({orc, *s, k.entries});
		}
		kept.push_back(std::move(k));
	}
	return kept;
}

} // namespace kp::diffgen
