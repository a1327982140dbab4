/* SPDX-License-Identifier: GPL-2.0 */
/*
 * task_state.h - the table of pending tasks (task_state.c), and the lookup the
 * ftrace handler inlines: no call, so its fast path stays a leaf function.
 */
#ifndef KP_TASK_STATE_H
#define KP_TASK_STATE_H

#include <linux/atomic.h>
#include <linux/hash.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>

#define KP_SLOT_SWITCHED	((struct task_struct *)1UL)

struct kp_pending {
	bool to_patched;		/* the target of the transition */
	bool all_pending;		/* every task on the state it leaves */
	unsigned int bits;		/* log2 of the number of slots */
	unsigned int capacity;		/* tasks it may hold */
	unsigned int nr;		/* tasks inserted (and referenced) */
	atomic_t nr_left;		/* inserted tasks not switched yet */
	struct task_struct **slots;	/* NULL: empty; task; KP_SLOT_SWITCHED */
	struct task_struct **tasks;	/* the inserted tasks, in order */
	unsigned long *addrs;		/* what held each one at the last check */
};

/* The table of the transition in progress, NULL when none. */
extern struct kp_pending __rcu *kp_pending_now;

/* The slot of @task, or the empty slot where it would go. */
static __always_inline struct task_struct **kp_slot(struct kp_pending *p,
						    struct task_struct *task)
{
	unsigned int mask = (1U << p->bits) - 1;
	unsigned int i = hash_ptr(task, p->bits);
	struct task_struct *s;

	for (;; i = (i + 1) & mask) {
		s = READ_ONCE(p->slots[i]);
		if (!s || s == task)
			return &p->slots[i];
	}
}

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
	struct kp_pending *p = rcu_dereference_raw(kp_pending_now);

	if (!p)
		return true;
	if (READ_ONCE(p->all_pending))
		return !p->to_patched;
	return (READ_ONCE(*kp_slot(p, current)) == current) != p->to_patched;
}

#endif /* KP_TASK_STATE_H */
