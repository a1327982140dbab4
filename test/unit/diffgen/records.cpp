// Reads kp_funcs / kp_syms records back from a diffgen output object.
#include <cstring>
#include <string>
#include <vector>

#include "elf/object.h"
#include "helpers.h"
#include "kp/abi.h"

namespace kp::test {

namespace {

// Name of the symbol relocated into @sec at @offset, or the string it points to in .rodata.kp.
std::string reloc_value(const elf::Section *sec, uint64_t offset)
{
	auto [b, e] = sec->relocs_in(offset, offset + 8);
	if (b == e || b->offset != offset)
		return "<no reloc>";
	if (b->sym->type == STT_SECTION && b->sym->sec && b->sym->sec->name == ".rodata.kp") {
		const auto &d = b->sym->sec->data;
		if (b->addend < 0 || static_cast<uint64_t>(b->addend) >= d.size())
			return "<bad string>";
		return reinterpret_cast<const char *>(d.data() + b->addend);
	}
	return b->sym->name;
}

}  // namespace

void read_relocs(const elf::Object &o, std::vector<RelocRec> &relocs)
{
	const elf::Section *s = o.section(KP_SEC_RELOCS);
	if (!s)
		return;
	for (uint64_t off = 0; off + sizeof(kp_reloc_rec) <= s->size(); off += sizeof(kp_reloc_rec)) {
		kp_reloc_rec r;
		std::memcpy(&r, s->data.data() + off, sizeof r);
		auto [b, e] = s->relocs_in(off, off + 8);
		std::string dest = b == e ? "<none>" : b->sym->name + "+" + std::to_string(b->addend);
		relocs.push_back({dest, reloc_value(s, off + offsetof(kp_reloc_rec, objname)),
				  reloc_value(s, off + offsetof(kp_reloc_rec, name)), r.sympos, r.addend, r.type});
	}
}

void read_records(const elf::Object &o, std::vector<FuncRec> &funcs, std::vector<SymRec> &syms)
{
	if (const elf::Section *f = o.section(KP_SEC_FUNCS)) {
		for (uint64_t off = 0; off + sizeof(kp_func_rec) <= f->size(); off += sizeof(kp_func_rec)) {
			kp_func_rec r;
			std::memcpy(&r, f->data.data() + off, sizeof r);
			funcs.push_back({reloc_value(f, off + offsetof(kp_func_rec, objname)),
					 reloc_value(f, off + offsetof(kp_func_rec, name)),
					 reloc_value(f, off + offsetof(kp_func_rec, new_func)), r.sympos, r.old_size, r.new_size});
		}
	}
	if (const elf::Section *s = o.section(KP_SEC_SYMS)) {
		for (uint64_t off = 0; off + sizeof(kp_sym_rec) <= s->size(); off += sizeof(kp_sym_rec)) {
			kp_sym_rec r;
			std::memcpy(&r, s->data.data() + off, sizeof r);
			syms.push_back({reloc_value(s, off + offsetof(kp_sym_rec, objname)),
					reloc_value(s, off + offsetof(kp_sym_rec, name)),
					reloc_value(s, off + offsetof(kp_sym_rec, addr)), r.sympos});
		}
	}
}

}  // namespace kp::test
