/* SPDX-License-Identifier: GPL-2.0 */
/*
 * values.h - opt-in transfer of a changed global's initial value: the
 * kp_values records (values.c).
 */
#ifndef KP_VALUES_H
#define KP_VALUES_H

#include "core.h"

unsigned int kp_values_count(const struct kp_patch_rec *rec);
int kp_values_init(struct kp_patch *patch);
void kp_values_free(struct kp_patch *patch);
int kp_values_resolve(struct kp_object *obj);
void kp_values_unresolve(struct kp_object *obj);
void kp_values_transfer(struct kp_patch *patch, struct kp_object *only);
void kp_values_restore(struct kp_patch *patch);
ssize_t kp_values_emit(struct kp_patch *patch, char *buf);

#endif /* KP_VALUES_H */
