/* SPDX-License-Identifier: GPL-2.0 */
/*
 * build_id.h - the GNU build ID of the running vmlinux and of a loaded module
 * (build_id.c).
 */
#ifndef KP_BUILD_ID_H
#define KP_BUILD_ID_H

#include <linux/types.h>

struct module;

/* Room for a 64-byte build ID in hex and its NUL. */
#define KP_BUILD_ID_HEX_MAX	(2 * 64 + 1)

int kp_vmlinux_build_id(char *hex, size_t len);
int kp_module_build_id(struct module *mod, char *hex, size_t len);

#endif /* KP_BUILD_ID_H */
