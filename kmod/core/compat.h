/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - what changed between the kernels kp_core builds against (6.1, 6.12).
 *
 * A module's memory: one core_layout (text, then read-only data, then
 * ro_after_init, then writable data) up to 6.3, one region per kind of memory
 * (mem[MOD_TEXT], mem[MOD_DATA], ...) since 6.4, which also brought
 * for_each_mod_mem_type().  Tested by feature where a macro tells; the one
 * change no macro tells (kallsyms_on_each_symbol()'s callback, 6.2) by version.
 */
#ifndef KP_COMPAT_H
#define KP_COMPAT_H

#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/version.h>

/*
 * Bytes from @addr to the end of the core region of @mod holding it, 0 when
 * none does.  Core: not init memory.  @ro_only: text or read-only data only
 * (up to 6.3 the front of core_layout, ro_size long; ro_after_init is not
 * counted, it is writable while the init runs).
 */
static inline unsigned long kp_mod_core_room(const struct module *mod,
					     unsigned long addr, bool ro_only)
{
#ifdef for_each_mod_mem_type
	enum mod_mem_type t;

	for_each_mod_mem_type(t) {
		unsigned long base = (unsigned long)mod->mem[t].base;
		unsigned long size = mod->mem[t].size;

		if (mod_mem_type_is_init(t) ||
		    (ro_only && t != MOD_TEXT && t != MOD_RODATA))
			continue;
		if (addr >= base && addr - base < size)
			return size - (addr - base);
	}
	return 0;
#else
	unsigned long base = (unsigned long)mod->core_layout.base;
	unsigned long size = ro_only ? mod->core_layout.ro_size :
				       mod->core_layout.size;

	return addr >= base && addr - base < size ? size - (addr - base) : 0;
#endif
}

/* Start and size of @mod's core text (not its init text). */
static inline unsigned long kp_mod_text_start(const struct module *mod)
{
#ifdef for_each_mod_mem_type
	return (unsigned long)mod->mem[MOD_TEXT].base;
#else
	return (unsigned long)mod->core_layout.base;
#endif
}

static inline unsigned long kp_mod_text_size(const struct module *mod)
{
#ifdef for_each_mod_mem_type
	return mod->mem[MOD_TEXT].size;
#else
	return mod->core_layout.text_size;
#endif
}

/* [*@start, *@end): @mod's plain writable data (not ro_after_init). */
static inline void kp_mod_rw_data(const struct module *mod, unsigned long *start,
				  unsigned long *end)
{
#ifdef for_each_mod_mem_type
	*start = (unsigned long)mod->mem[MOD_DATA].base;
	*end = *start + mod->mem[MOD_DATA].size;
#else
	const struct module_layout *l = &mod->core_layout;

	*start = (unsigned long)l->base + l->ro_after_init_size;
	*end = (unsigned long)l->base + l->size;
#endif
}

/* kallsyms_on_each_symbol()'s callback lost its module argument in 6.2. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define KP_KALLSYMS_CB_NO_MODULE 1
#endif

/* The instruction pointer an ftrace handler returns to (renamed in 6.7). */
#ifdef ftrace_regs_set_instruction_pointer
#define kp_ftrace_set_ip(fregs, ip) ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define kp_ftrace_set_ip(fregs, ip) ftrace_instruction_pointer_set(fregs, ip)
#endif

#endif /* KP_COMPAT_H */
