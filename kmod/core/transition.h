/* SPDX-License-Identifier: GPL-2.0 */
/*
 * transition.h - switching a patch on or off task by task (transition.c), and
 * the per-task lookup the ftrace handler inlines.
 */
#ifndef KP_TRANSITION_H
#define KP_TRANSITION_H

#include <linux/rcupdate.h>
#include "core.h"
#include "pending.h"

/* The default transition timeout (module parameter transition_timeout). */
extern unsigned int kp_timeout_s;

/* The pending tasks of the transition in progress, NULL when none. */
extern struct kp_pending __rcu *kp_pending_now;

/*
 * Does current (or the task an interrupt or NMI interrupted) run the patched
 * state of the patch in transition?  Pending tasks run the state the
 * transition leaves, every other task the target.  Called by the ftrace
 * handler for a version in transition, preemption disabled; possibly where
 * RCU is not watching (the idle path), hence the raw dereference: the table
 * is freed only after kp_synchronize(), which waits for such callers too.
 */
static __always_inline bool kp_current_patched(void)
{
	struct kp_pending *p;

	smp_rmb();	/* func->transition before the table, as livepatch */
	p = rcu_dereference_raw(kp_pending_now);
	if (!p)
		return true;
	return kp_pending_has(p, current) != p->to_patched;
}

int kp_transition_init(void);
void kp_transition_exit(void);
int kp_transition(struct kp_patch *patch, bool enable);
int kp_transition_force(struct kp_patch *patch);
int kp_transition_canary(struct kp_patch *patch, unsigned int room);
bool kp_transition_canary_open(struct kp_patch *patch);
int kp_transition_canary_end(struct kp_patch *patch, bool promote);
int kp_transition_push_object(struct kp_patch *patch, struct kp_object *obj);
struct kp_patch *kp_transition_other(struct kp_patch *patch);
int kp_transition_busy(struct kp_patch *patch, bool enable);
bool kp_in_transition(struct kp_patch *patch);
u64 kp_transition_elapsed_ms(struct kp_patch *patch);
struct kp_pending *kp_transition_pending(struct kp_patch *patch);
void kp_synchronize(void);

#endif /* KP_TRANSITION_H */
