/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pending.h - a set of tasks, as an open-addressed hash table keyed by
 * task_struct pointer (pending.c).  Plain data: the transition decides what
 * goes in and when (transition.c, passes.c); the ftrace handler reads the
 * table installed (redirect.c) through kp_pending_has(), inlined so that
 * the handler stays a leaf function.
 *
 * The table is filled inside stop_machine and only shrinks afterwards: the
 * slot of a task that switched is overwritten with KP_SLOT_SWITCHED, a single
 * store that concurrent readers see either before or after.  It holds a
 * reference on every task it names, so that a task freed meanwhile cannot
 * hand its address to a new task.
 */
#ifndef KP_PENDING_H
#define KP_PENDING_H

#include <linux/atomic.h>
#include <linux/hash.h>
#include <linux/sched.h>

#define KP_SLOT_SWITCHED	((struct task_struct *)1UL)

struct kp_pending {
	bool to_patched;		/* the target of the transition */
	unsigned int bits;		/* log2 of the number of slots */
	unsigned int capacity;		/* tasks it may hold */
	unsigned int nr;		/* tasks inserted (and referenced) */
	atomic_t nr_left;		/* inserted tasks not switched yet */
	struct task_struct **slots;	/* NULL: empty; task; KP_SLOT_SWITCHED */
	struct task_struct **tasks;	/* the inserted tasks, in order */
	unsigned long *addrs;		/* what held each one at the last check */
};

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

/* Is @task in @p and not switched? */
static __always_inline bool kp_pending_has(struct kp_pending *p,
					   struct task_struct *task)
{
	return READ_ONCE(*kp_slot(p, task)) == task;
}

struct kp_pending *kp_pending_alloc(unsigned int capacity, bool to_patched);
void kp_pending_free(struct kp_pending *p);
bool kp_pending_add(struct kp_pending *p, struct task_struct *task,
		    unsigned long addr);
bool kp_pending_switch(struct kp_pending *p, struct task_struct *task);
unsigned int kp_pending_left(struct kp_pending *p);
unsigned int kp_pending_nr(struct kp_pending *p);
struct task_struct *kp_pending_task(struct kp_pending *p, unsigned int i,
				    unsigned long **addr);

#endif /* KP_PENDING_H */
