// SPDX-License-Identifier: GPL-2.0
/*
 * symbols.c - find a symbol of a patch target (vmlinux or a loaded module) by
 * object, name and sympos: sympos 0 means the name is unique in the object,
 * N the N-th symbol of that name in address order (include/kp/abi.h).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/elf.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include "kallsyms.h"
#include <kp/abi.h>
#include "symbols.h"

bool kp_is_vmlinux(const char *objname)
{
	return !strcmp(objname, KP_OBJ_VMLINUX);
}

/*
 * Instances of one name kp_lookup() can tell apart.  Debian's 6.1 vmlinux has
 * 106 static _acpi_module_name (one per ACPICA file), so 64 refused real fixes
 * there.  16 bytes each: the match is a vmalloc-able 16 KiB.
 */
#define KP_MAX_DUPS 1024

struct kp_sym {
	unsigned long addr;
	unsigned long size;	/* ELF st_size for modules, 0 for vmlinux */
};

struct kp_match {
	const char *name;
	unsigned int count;
	struct kp_sym syms[KP_MAX_DUPS];
};

static void kp_match_add(struct kp_match *m, unsigned long addr,
			 unsigned long size)
{
	if (m->count < KP_MAX_DUPS) {
		m->syms[m->count].addr = addr;
		m->syms[m->count].size = size;
	}
	m->count++;
}

static int kp_vmlinux_cb(void *data, const char *name, unsigned long addr)
{
	struct kp_match *m = data;

	if (!strcmp(name, m->name))
		kp_match_add(m, addr, 0);
	return 0;
}

static void kp_module_symbols(struct module *mod, struct kp_match *m)
{
	struct mod_kallsyms *ks;
	unsigned int i;

	preempt_disable();
	ks = rcu_dereference_sched(mod->kallsyms);
	for (i = 0; i < ks->num_symtab; i++) {
		const Elf_Sym *sym = &ks->symtab[i];

		if (sym->st_shndx == SHN_UNDEF ||
		    ELF_ST_TYPE(sym->st_info) == STT_FILE ||
		    ELF_ST_TYPE(sym->st_info) == STT_SECTION)
			continue;
		if (!strcmp(ks->strtab + sym->st_name, m->name))
			kp_match_add(m, sym->st_value, sym->st_size);
	}
	preempt_enable();
}

static int kp_cmp_sym(const void *a, const void *b)
{
	unsigned long x = ((const struct kp_sym *)a)->addr;
	unsigned long y = ((const struct kp_sym *)b)->addr;

	return x < y ? -1 : x > y;
}

/*
 * Resolve @name in @objname (@mod must be the loaded module when @objname is
 * not vmlinux).  sympos 0: the name must be unique; N: the N-th symbol of that
 * name in address order.  @elf_size (optional) gets the symbol's ELF size when
 * known (module symbols), else 0.
 */
int kp_lookup(const char *objname, struct module *mod, const char *name,
	      unsigned long sympos, unsigned long *addr,
	      unsigned long *elf_size)
{
	struct kp_match *m;
	int ret = 0;

	m = kvzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->name = name;
	if (kp_is_vmlinux(objname))
		kp_kallsyms_on_each_symbol(kp_vmlinux_cb, m);
	else if (mod)
		kp_module_symbols(mod, m);

	if (!m->count) {
		pr_err("symbol %s not found in %s\n", name, objname);
		ret = -ENOENT;
	} else if (m->count > KP_MAX_DUPS) {
		pr_err("symbol %s has too many (%u) instances in %s\n", name,
		       m->count, objname);
		ret = -E2BIG;
	} else if (sympos == 0 && m->count > 1) {
		pr_err("symbol %s is ambiguous in %s: %u instances and sympos 0\n",
		       name, objname, m->count);
		ret = -EINVAL;
	} else if (sympos > m->count) {
		pr_err("symbol %s,%lu not found in %s: only %u instance(s)\n",
		       name, sympos, objname, m->count);
		ret = -ENOENT;
	} else {
		struct kp_sym *sym;

		sort(m->syms, m->count, sizeof(m->syms[0]), kp_cmp_sym, NULL);
		sym = &m->syms[sympos ? sympos - 1 : 0];
		*addr = sym->addr;
		if (elf_size)
			*elf_size = sym->size;
	}
	kvfree(m);
	return ret;
}

/* 1 and the address when @mod's symbol table defines @name once. */
int kp_module_has_symbol(struct module *mod, const char *name,
			 unsigned long *addr)
{
	struct kp_match *m;
	int ret = 0;

	m = kvzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return 0;
	m->name = name;
	kp_module_symbols(mod, m);
	if (m->count == 1) {
		*addr = m->syms[0].addr;
		ret = 1;
	}
	kvfree(m);
	return ret;
}

/*
 * kp's kprobes on kernel functions go on the instruction after the
 * function's __fentry__ call, not on the call itself: there they would be
 * ftrace users, listed in /sys/kernel/tracing/enabled_functions beside the
 * patches' handlers for as long as kp_core is loaded.  The argument
 * registers and the return address on the stack are the function's own
 * there (the call is a nop, or ftrace's trampolines restore them).
 */
unsigned long kp_after_fentry(const char *name)
{
	unsigned long addr, size, loc;

	if (kp_lookup(KP_OBJ_VMLINUX, NULL, name, 0, &addr, &size))
		return 0;
	loc = kp_ftrace_location(addr);
	return loc ? loc - addr + MCOUNT_INSN_SIZE : 0;
}
