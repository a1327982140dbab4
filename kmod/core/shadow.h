/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadow.h - shadow variables (shadow.c): the API for patches is in
 * kmod/patch/kp_shadow.h; this is what the rest of the core uses.
 */
#ifndef KP_CORE_SHADOW_H
#define KP_CORE_SHADOW_H

#include <linux/module.h>
#include <kp/abi.h>

int kp_shadow_declare(struct module *mod, const struct kp_shadow_rec *first,
		      const struct kp_shadow_rec *last);
void kp_shadow_release(struct module *mod, const char *patch);
ssize_t kp_shadow_emit_ids(struct module *mod, char *buf);
ssize_t kp_shadow_emit_all(char *buf);
void kp_shadow_exit(void);

#endif /* KP_CORE_SHADOW_H */
