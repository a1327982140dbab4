// __LINE__-only changes: a moved line gives WARN/might_sleep/printk-style helpers a new
// line-number immediate while the code stays the same.  Decoded with Capstone.
#include <capstone/capstone.h>

#include <memory>

#include "compare.h"
#include "names.h"
#include "references.h"

namespace kp::diffgen {

namespace {

struct CsHandle {
	csh h = 0;
	bool ok = false;
	CsHandle()
	{
		ok = cs_open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK;
		if (ok)
			cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	}
	~CsHandle()
	{
		if (ok)
			cs_close(&h);
	}
	CsHandle(const CsHandle &) = delete;
	CsHandle &operator=(const CsHandle &) = delete;
};

struct Insns {
	cs_insn *insn = nullptr;
	size_t count = 0;
	~Insns()
	{
		if (insn)
			cs_free(insn, count);
	}
};

// The name of the call target of the call instruction at [off, off+size) of @func.
std::string call_target(const elf::Object &obj, const elf::Symbol *func, uint64_t off,
                        uint64_t size)
{
	auto [b, e] = func->sec->relocs_in(func->value + off, func->value + off + size);
	if (b == e)
		return "";
	Target t = resolve(obj, *b, true);
	return t.item ? t.item->name : t.sym->name;
}

bool is_mov_imm_to_reg(const cs_insn &i)
{
	if (i.id != X86_INS_MOV || !i.detail)
		return false;
	const cs_x86 &x = i.detail->x86;
	return x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
	       x.operands[1].type == X86_OP_IMM;
}

} // namespace

bool only_line_numbers_differ(const elf::Object &orig, const elf::Symbol *o,
                              const elf::Object &patched, const elf::Symbol *p)
{
	(void)orig;
	if (o->size != p->size || o->sec->is_nobits())
		return false;
	CsHandle cs;
	if (!cs.ok)
		return false;
	Insns a, b;
	a.count = cs_disasm(cs.h, o->sec->data.data() + o->value, o->size, 0, 0, &a.insn);
	b.count = cs_disasm(cs.h, p->sec->data.data() + p->value, p->size, 0, 0, &b.insn);
	if (a.count == 0 || a.count != b.count)
		return false;
	bool any = false;
	for (size_t i = 0; i < a.count; i++) {
		const cs_insn &x = a.insn[i], &y = b.insn[i];
		if (x.size != y.size || x.address != y.address)
			return false;
		if (std::equal(x.bytes, x.bytes + x.size, y.bytes))
			continue;
		if (!is_mov_imm_to_reg(x) || !is_mov_imm_to_reg(y) ||
		    x.detail->x86.operands[0].reg != y.detail->x86.operands[0].reg)
			return false;
		// The next call within a few instructions must go to a line-taking helper.
		bool helper = false;
		for (size_t j = i + 1; j < b.count && j <= i + 6; j++) {
			if (b.insn[j].id != X86_INS_CALL)
				continue;
			helper = is_line_helper(
			        call_target(patched, p, b.insn[j].address, b.insn[j].size));
			break;
		}
		if (!helper)
			return false;
		any = true;
	}
	return any;
}

} // namespace kp::diffgen
