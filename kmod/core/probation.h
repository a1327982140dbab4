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
/* What reports a fault, for the policy (probation.c). */
enum kp_fault_kind {
	KP_FAULT_OOPS,		/* die: Oops, BUG, GPF, bad page fault */
	KP_FAULT_WARN,
	KP_FAULT_LOCKUP,	/* soft or hard lockup, RCU stall */
};

void kp_probation_blame(enum kp_fault_kind kind, const char *type,
			unsigned long ip, const unsigned long *stack,
			unsigned int nr);
int kp_probation_policy(struct kp_patch *patch);
int kp_probation_rollback_on(struct kp_patch *patch, u64 kinds);
unsigned int kp_probation_left(struct kp_patch *patch);
int kp_probation_set(struct kp_patch *patch, unsigned int seconds);
int kp_probation_fail(struct kp_patch *patch, const char *reason);

#endif /* KP_PROBATION_H */
