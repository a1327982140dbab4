/* SPDX-License-Identifier: GPL-2.0 */
/*
 * replace.h - cumulative patches (issue 27, replace.c): a replace patch
 * replaces the enabled patches of its set in one transition.
 */
#ifndef KP_REPLACE_H
#define KP_REPLACE_H

#include "core.h"

bool kp_replaces(struct kp_patch *patch, struct kp_patch *p);
int kp_replace_add_nops(struct kp_patch *patch);
void kp_replace_free_nops(struct kp_patch *patch);
void kp_replace_hold(struct kp_patch *patch);
void kp_replace_restore(struct kp_patch *patch);
void kp_replace_discard(struct kp_patch *patch);
unsigned int kp_replace_nr_targets(struct kp_patch *patch);

#endif /* KP_REPLACE_H */
