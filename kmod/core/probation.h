/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probation.h - the probation window after a patch switched on, and its
 * rollback when a fault is pinned on it (probation.c); its sysfs files are
 * sysfs_patch.c's.
 */
#ifndef KP_PROBATION_H
#define KP_PROBATION_H

#include "core.h"

/* The default window in seconds (module parameter probation; 0: none). */
extern unsigned int kp_probation_s;

void kp_probation_init(void);
void kp_probation_exit(void);
void kp_probation_settled(struct kp_patch *patch, bool enabled);
void kp_probation_canary(struct kp_patch *patch);
bool kp_probation_watching(void);
void kp_probation_blame(const char *type, unsigned long ip,
			const unsigned long *stack, unsigned int nr);
unsigned int kp_probation_left(struct kp_patch *patch);
int kp_probation_set(struct kp_patch *patch, unsigned int seconds);
int kp_probation_fail(struct kp_patch *patch, const char *reason);

#endif /* KP_PROBATION_H */
