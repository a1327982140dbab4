#include "references.h"

namespace kp::diffgen {

Target resolve(const elf::Object &obj, const elf::Reloc &r, bool from_text)
{
	Target t;
	t.sym = r.sym;
	t.delta = r.addend;
	if (r.sym->is_item()) {
		t.item = r.sym->primary();
		t.sec = r.sym->sec;
		return t;
	}
	if (!r.sym->sec)
		return t;
	// Section symbol or label: find the item covering the pointed-to offset.
	const elf::Section *sec = r.sym->sec;
	t.sec = sec;
	int64_t base = static_cast<int64_t>(r.sym->type == STT_SECTION ? 0 : r.sym->value);
	int64_t off = wrap_add(base, r.addend);
	t.delta = off;
	const elf::Symbol *item = nullptr;
	if (from_text && elf::is_pcrel(r.type)) {
		// disp32 is followed by at most a 4-byte immediate in the instruction.
		for (int adj = 4; adj <= 8 && !item; adj++)
			if (wrap_add(off, adj) >= 0)
				item = obj.item_at(sec, static_cast<uint64_t>(wrap_add(off, adj)));
	}
	if (!item && off >= 0)
		item = obj.item_at(sec, static_cast<uint64_t>(off), !from_text);
	if (item) {
		t.item = item;
		t.delta = wrap_add(off, -static_cast<int64_t>(item->value));
	}
	return t;
}

} // namespace kp::diffgen
