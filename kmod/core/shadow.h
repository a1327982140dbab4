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
/* Called on each id a module uses; false stops. */
typedef bool (*kp_shadow_id_fn)(unsigned long id, bool declared, void *data);

void kp_shadow_walk_ids(struct module *mod, kp_shadow_id_fn fn, void *data);
unsigned int kp_shadow_count(unsigned long *ids, unsigned long *counts,
			     unsigned int max);
void kp_shadow_exit(void);

#endif /* KP_CORE_SHADOW_H */
