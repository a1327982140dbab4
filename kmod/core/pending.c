// SPDX-License-Identifier: GPL-2.0
/*
 * pending.c - the set of tasks that have not switched yet in a transition:
 * an open-addressed hash table keyed by task_struct pointer (see pending.h).
 * No policy here: who is pending, and when the table is published or freed,
 * is the transition's business (transition.c, passes.c, redirect.c).
 */

#include <linux/log2.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include "pending.h"

struct kp_pending *kp_pending_alloc(unsigned int capacity, bool to_patched)
{
	struct kp_pending *p;
	unsigned int slots;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return NULL;
	slots = roundup_pow_of_two(max(2 * capacity, 16U));
	p->bits = ilog2(slots);
	p->capacity = capacity;
	p->to_patched = to_patched;
	p->slots = kvcalloc(slots, sizeof(*p->slots), GFP_KERNEL);
	p->tasks = kvcalloc(capacity, sizeof(*p->tasks), GFP_KERNEL);
	p->addrs = kvcalloc(capacity, sizeof(*p->addrs), GFP_KERNEL);
	if (!p->slots || !p->tasks || !p->addrs) {
		kp_pending_free(p);
		return NULL;
	}
	return p;
}

/* Drop the table and its task references (nobody may read it any more). */
void kp_pending_free(struct kp_pending *p)
{
	unsigned int i;

	if (!p)
		return;
	if (p->tasks)
		for (i = 0; i < p->nr; i++)
			put_task_struct(p->tasks[i]);
	kvfree(p->slots);
	kvfree(p->tasks);
	kvfree(p->addrs);
	kfree(p);
}

/*
 * Add @task (not running: inside stop_machine) with the address that holds
 * it.  Returns false when the table is full.
 */
bool kp_pending_add(struct kp_pending *p, struct task_struct *task,
		    unsigned long addr)
{
	struct task_struct **slot;

	if (p->nr >= p->capacity)
		return false;
	slot = kp_slot(p, task);
	if (*slot == task)
		return true;
	get_task_struct(task);
	WRITE_ONCE(*slot, task);
	p->addrs[p->nr] = addr;
	p->tasks[p->nr++] = task;
	atomic_inc(&p->nr_left);
	return true;
}

/* @task is at the target now.  Returns true if it was pending. */
bool kp_pending_switch(struct kp_pending *p, struct task_struct *task)
{
	struct task_struct **slot = kp_slot(p, task);

	/* Two switchers (the task itself, a task pass, force) may race. */
	if (cmpxchg(slot, task, KP_SLOT_SWITCHED) != task)
		return false;
	atomic_dec(&p->nr_left);
	return true;
}

unsigned int kp_pending_left(struct kp_pending *p)
{
	return p ? atomic_read(&p->nr_left) : 0;
}

unsigned int kp_pending_nr(struct kp_pending *p)
{
	return p->nr;
}

/*
 * The @i-th inserted task if it is still pending, else NULL; @addr (optional)
 * gets where its address slot is.
 */
struct task_struct *kp_pending_task(struct kp_pending *p, unsigned int i,
				    unsigned long **addr)
{
	struct task_struct *task = p->tasks[i];

	if (addr)
		*addr = &p->addrs[i];
	return kp_pending_has(p, task) ? task : NULL;
}
