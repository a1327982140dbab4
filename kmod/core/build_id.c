// SPDX-License-Identifier: GPL-2.0
/*
 * build_id.c - the GNU build ID of the running vmlinux, read from its notes
 * (what /sys/kernel/notes shows).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/elf.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include "build_id.h"
#include "kallsyms.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* The GNU build ID of the running vmlinux as lowercase hex. */
int kp_vmlinux_build_id(char *hex, size_t len)
{
	const char *p, *end;

	kp_kernel_notes(&p, &end);

	while (p + sizeof(Elf64_Nhdr) <= end) {
		const Elf64_Nhdr *n = (const Elf64_Nhdr *)p;
		const char *name = p + sizeof(*n);
		const u8 *desc = (const u8 *)name + ALIGN(n->n_namesz, 4);
		const char *next = (const char *)desc + ALIGN(n->n_descsz, 4);

		if (next > end)
			break;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
		    !memcmp(name, "GNU", 4)) {
			if (len < 2 * n->n_descsz + 1)
				return -ENOSPC;
			bin2hex(hex, desc, n->n_descsz);
			hex[2 * n->n_descsz] = '\0';
			return 0;
		}
		p = next;
	}
	pr_err("no GNU build ID note in the running kernel\n");
	return -ENOENT;
}
