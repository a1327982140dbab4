#include "endbr.h"

#include <elf.h>
#include <set>

namespace kp::diffgen {

namespace {

using Endbr = ksym::SymbolTable::Endbr;

// Does @r, in @from, take the address of what it refers to?  In text, a PC-relative
// relocation right after a call, jmp or jcc opcode is a branch; any other use (lea, mov
// of an immediate, a data word) makes the address a value an indirect call can use.
bool takes_address(const elf::Section &from, const elf::Reloc &r)
{
	if (!from.is_text())
		return true;
	if (r.type != R_X86_64_PC32 && r.type != R_X86_64_PLT32)
		return true;
	const auto &d = from.data;
	uint64_t o = r.offset;
	if (o >= 1 && o <= d.size() && (d[o - 1] == 0xe8 || d[o - 1] == 0xe9))
		return false; // call rel32, jmp rel32
	if (o >= 2 && o <= d.size() && d[o - 2] == 0x0f && (d[o - 1] & 0xf0) == 0x80)
		return false; // jcc rel32
	return true;
}

} // namespace

std::vector<AddressTaken> addresses_taken(const Selection &sel, const elf::Object &orig,
                                          const ksym::SymbolTable &target)
{
	std::vector<AddressTaken> out;
	std::set<std::pair<std::string, size_t>> seen;
	auto scan = [&](const elf::Section &from, uint64_t begin, uint64_t end,
	                const std::string &user) {
		auto [b, e] = from.relocs_in(begin, end);
		for (; b != e; ++b) {
			auto ref = sel.refs.find(b);
			if (ref == sel.refs.end() || ref->second.kind != Ref::Extern)
				continue;
			const External &x = sel.externals[ref->second.external];
			if (!x.found || !takes_address(from, *b))
				continue;
			const ksym::KernelSymbol *k = target.counterpart(x.name, x.local, orig);
			if (!k || !k->sym->is_func() ||
			    !seen.emplace(user, ref->second.external).second)
				continue;
			out.push_back({user, ref->second.external, target.endbr(*k)});
		}
	};
	for (const elf::Symbol *item : sel.items)
		scan(*item->sec, item->value, item->value + item->size, item->name);
	for (const elf::Section *piece : sel.pieces)
		scan(*piece, 0, piece->size(), "section " + piece->name);
	return out;
}

std::vector<std::string> sealed_endbr_refusals(const std::vector<AddressTaken> &taken,
                                               const Selection &sel, const elf::Object &patched,
                                               const ksym::SymbolTable &target)
{
	std::vector<std::string> out;
	for (const AddressTaken &t : taken) {
		if (t.endbr != Endbr::sealed && t.endbr != Endbr::missing)
			continue;
		const std::string &fn = sel.externals[t.external].name;
		std::string why =
		        t.endbr == Endbr::sealed
		                ? "whose ENDBR " + target.path() +
		                          " seals (objtool's .ibt_endbr_seal: the kernel never "
		                          "takes "
		                          "its address, and poisons the ENDBR when it loads it)"
		                : "which has no ENDBR in " + target.path() +
		                          " (a __noendbr or assembly function)";
		out.push_back(patched.path() + ": " + t.user + " takes the address of " + fn +
		              ", " + why +
		              ": an indirect call through that address would fault with #CP "
		              "on a CPU with IBT. Call " +
		              fn +
		              " directly, or give the fix its own function that calls it and "
		              "take the address of that");
	}
	return out;
}

} // namespace kp::diffgen
