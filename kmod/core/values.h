/* SPDX-License-Identifier: GPL-2.0 */
/*
 * values.h - opt-in transfer of a changed global's initial value: the
 * kp_values records (values.c).
 */
#ifndef KP_VALUES_H
#define KP_VALUES_H

#include "core.h"

enum kp_value_state {
	KP_VALUE_PENDING,	/* the old value is in force: not transferred yet */
	KP_VALUE_TRANSFERRED,	/* the new value is in force */
	KP_VALUE_KEPT,		/* changed at run time before the transfer: kept */
	KP_VALUE_RESTORED,	/* the old value is back */
	KP_VALUE_LEFT,		/* changed while patched: not restored */
};

struct kp_value {
	struct kp_object *obj;
	const struct kp_value_rec *rec;
	const char *name;
	void *addr;			/* the live variable; NULL: not resolved */
	enum kp_value_state state;
	bool changed;			/* by the last pass: to be logged */
};

#define kp_for_each_value(patch, v)					\
	for (v = (patch)->values; v < (patch)->values + (patch)->nr_values; v++)

unsigned int kp_values_count(const struct kp_patch_rec *rec);
int kp_values_init(struct kp_patch *patch);
void kp_values_free(struct kp_patch *patch);
int kp_values_resolve(struct kp_object *obj);
void kp_values_unresolve(struct kp_object *obj);
int kp_values_transfer(struct kp_patch *patch, struct kp_object *only);
int kp_values_restore(struct kp_patch *patch);

#endif /* KP_VALUES_H */
