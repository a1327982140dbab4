// SPDX-License-Identifier: GPL-2.0
/*
 * build_id.c - the GNU build ID of the running vmlinux, read from its notes
 * (what /sys/kernel/notes shows), and of a loaded module (its
 * /sys/module/<mod>/notes).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/elf.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/sysfs.h>
#include <linux/string.h>
#include "build_id.h"
#include "kallsyms.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* The GNU build ID among the notes in [@p, @end) as lowercase hex. */
static int kp_notes_build_id(const char *p, const char *end, char *hex,
			     size_t len)
{
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
	return -ENOENT;
}

/* The GNU build ID of the running vmlinux as lowercase hex. */
int kp_vmlinux_build_id(char *hex, size_t len)
{
	const char *p, *end;
	int ret;

	kp_kernel_notes(&p, &end);
	ret = kp_notes_build_id(p, end, hex, len);
	if (ret == -ENOENT)
		pr_err("no GNU build ID note in the running kernel\n");
	return ret;
}

/*
 * The layout of struct module_notes_attrs, private to 6.1's
 * kernel/module/sysfs.c: what /sys/module/<mod>/notes/ shows, each
 * attribute's private pointer the loaded note section.  The module loader
 * keeps no other record of a module's build ID (mod->build_id exists only
 * with CONFIG_STACKTRACE_BUILD_ID, which Debian does not set).
 */
struct kp_module_notes_attrs {
	struct kobject *dir;
	unsigned int notes;
	struct bin_attribute attrs[];
};

/* The GNU build ID of the loaded module @mod (its own, not its target's). */
int kp_module_build_id(struct module *mod, char *hex, size_t len)
{
	const struct kp_module_notes_attrs *na =
		(const struct kp_module_notes_attrs *)mod->notes_attrs;
	unsigned int i;

	for (i = 0; na && i < na->notes; i++) {
		const char *p = na->attrs[i].private;

		if (!kp_notes_build_id(p, p + na->attrs[i].size, hex, len))
			return 0;
	}
	return -ENOENT;
}
