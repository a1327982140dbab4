// IBT: which functions of the target an indirect call may land on.
//
// With CONFIG_X86_KERNEL_IBT, gcc starts every function whose address may be taken with
// ENDBR64, and objtool --ibt lists, in .ibt_endbr_seal, each ENDBR of a function whose
// address the object never takes.  apply_seal_endbr() poisons those at boot (vmlinux)
// or at load (a module), CPU support or not, so an indirect call to one of them faults
// with #CP on a CPU that enforces IBT.  Each entry is a 32-bit offset from the entry to
// the ENDBR: in vmlinux the linked value, in a module an R_X86_64_PC32 relocation whose
// symbol plus addend is the ENDBR.
#include <cstring>
#include <elf.h>

#include "ksym/symbols.h"

namespace kp::ksym {

namespace {

constexpr const char *kSealList = ".ibt_endbr_seal";
constexpr uint8_t kEndbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};

// The section of @obj (a linked image) whose allocated range holds @addr.
const elf::Section *section_at(const elf::Object &obj, uint64_t addr)
{
	for (const auto &sec : obj.sections())
		if ((sec->flags() & SHF_ALLOC) && sec->shdr.sh_addr <= addr &&
		    addr < sec->shdr.sh_addr + sec->size())
			return sec.get();
	return nullptr;
}

// The file offset of @s in its section: a linked image's symbols hold addresses.
uint64_t offset_in_section(const elf::Object &obj, const elf::Symbol &s)
{
	return obj.is_relocatable() ? s.value : s.value - s.sec->shdr.sh_addr;
}

} // namespace

void SymbolTable::index_seals()
{
	const elf::Section *list = obj_->section(kSealList);
	if (!list || list->is_nobits())
		return;
	has_seal_list_ = true;
	if (!obj_->is_relocatable()) {
		for (uint64_t off = 0; off + 4 <= list->data.size(); off += 4) {
			int32_t rel;
			std::memcpy(&rel, list->data.data() + off, 4);
			uint64_t addr = list->shdr.sh_addr + off + static_cast<int64_t>(rel);
			if (const elf::Section *sec = section_at(*obj_, addr))
				sealed_.emplace(sec->index, addr - sec->shdr.sh_addr);
		}
		return;
	}
	// A module: the symbol table reads no relocations, so read .rela.ibt_endbr_seal's
	// entries here.
	const elf::Section *rela = obj_->section(std::string(".rela") + kSealList);
	if (!rela)
		return;
	const auto &syms = obj_->symbols();
	for (uint64_t off = 0; off + sizeof(Elf64_Rela) <= rela->data.size();
	     off += sizeof(Elf64_Rela)) {
		Elf64_Rela r;
		std::memcpy(&r, rela->data.data() + off, sizeof(r));
		size_t si = ELF64_R_SYM(r.r_info);
		if (ELF64_R_TYPE(r.r_info) != R_X86_64_PC32 || si >= syms.size() || !syms[si]->sec)
			continue;
		sealed_.emplace(syms[si]->sec->index, syms[si]->value + r.r_addend);
	}
}

SymbolTable::Endbr SymbolTable::endbr(const KernelSymbol &k) const
{
	const elf::Symbol &s = *k.sym;
	if (!s.sec || s.sec->is_nobits())
		return Endbr::unknown;
	uint64_t off = offset_in_section(*obj_, s);
	if (sealed_.count({s.sec->index, off}))
		return Endbr::sealed;
	bool endbr = off + sizeof(kEndbr64) <= s.sec->data.size() &&
	             std::memcmp(s.sec->data.data() + off, kEndbr64, sizeof(kEndbr64)) == 0;
	if (endbr)
		return Endbr::present;
	return has_seal_list_ ? Endbr::missing : Endbr::unknown;
}

} // namespace kp::ksym
