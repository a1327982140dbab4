/* SPDX-License-Identifier: GPL-2.0 */
/*
 * symbols.h - symbols of patch targets by object, name and sympos
 * (symbols.c).
 */
#ifndef KP_SYMBOLS_H
#define KP_SYMBOLS_H

#include <linux/module.h>

bool kp_is_vmlinux(const char *objname);
int kp_lookup(const char *objname, struct module *mod, const char *name,
	      unsigned long sympos, unsigned long *addr,
	      unsigned long *elf_size);
int kp_module_has_symbol(struct module *mod, const char *name,
			 unsigned long *addr);
unsigned long kp_after_fentry(const char *name);

#endif /* KP_SYMBOLS_H */
