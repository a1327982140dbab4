/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probation.h - the probation window after a patch switched on, and its
 * rollback when a fault is pinned on it (probation.c).
 */
#ifndef KP_PROBATION_H
#define KP_PROBATION_H

#include <linux/sysfs.h>
#include "core.h"

/* The default window in seconds (module parameter probation; 0: none). */
extern unsigned int kp_probation_s;

/* The patch directory's probation files (sysfs.c adds the group). */
extern const struct attribute_group kp_probation_group;

int kp_probation_init(void);
void kp_probation_exit(void);
void kp_probation_settled(struct kp_patch *patch, bool enabled);
void kp_probation_canary(struct kp_patch *patch);
bool kp_probation_watching(void);
void kp_probation_blame(const char *type, unsigned long ip,
			const unsigned long *stack, unsigned int nr);

#endif /* KP_PROBATION_H */
