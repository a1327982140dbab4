// SPDX-License-Identifier: GPL-2.0
/*
 * kp_core: self-switch requests.  A pending user task is asked, through task
 * work, to switch itself on its way back to user space when its own stack is
 * clean (livepatch switches such tasks from klp_update_patch_state() on the
 * same path); the last one completes the transition.
 */

#include <linux/delay.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>
#include "kallsyms.h"
#include "pending.h"
#include "redirect.h"
#include "selfswitch.h"
#include "stack.h"
#include "transition.h"

/* Self-switch request queued on a pending user task. */
struct kp_twork {
	struct callback_head cb;
	unsigned int gen;
};

static atomic_t kp_tworks = ATOMIC_INIT(0);

static bool kp_twork_match(struct callback_head *cb, void *data)
{
	return cb->func == data;
}

/*
 * Task work: the pending task is on its way back to user space (or inside
 * another task_work_run() caller).  Switch it if its own stack is clean; the
 * last one to switch completes the transition without waiting for a retry.
 */
static void kp_twork_fn(struct callback_head *cb)
{
	struct kp_twork *w = container_of(cb, struct kp_twork, cb);
	struct kp_pending *p;

	preempt_disable();	/* no stop_machine pass meanwhile */
	p = kp_pending_installed();
	if (p && kp_transition_gen_is(w->gen) &&
	    kp_pending_has(p, current) && !kp_stack_blocks_self() &&
	    kp_pending_switch(p, current) && !kp_pending_left(p))
		kp_transition_kick();
	preempt_enable();
	kfree(w);
	atomic_dec(&kp_tworks);
}

/* Ask @task to switch itself when it next returns to user space. */
void kp_selfswitch_queue(struct task_struct *task, unsigned int gen)
{
	struct kp_twork *w;

	if (task->flags & (PF_KTHREAD | PF_EXITING))
		return;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return;		/* the retry passes still switch it */
	w->gen = gen;
	init_task_work(&w->cb, kp_twork_fn);
	atomic_inc(&kp_tworks);
	if (task_work_add(task, &w->cb, TWA_RESUME)) {
		atomic_dec(&kp_tworks);
		kfree(w);
	}
}

/* Free @p (unpublished) with the self-switch requests still queued for it. */
void kp_selfswitch_drop(struct kp_pending *p)
{
	struct callback_head *cb;
	unsigned int i;

	for (i = 0; p && i < kp_pending_nr(p); i++) {
		while ((cb = kp_task_work_cancel(p->tasks[i], kp_twork_match,
						 kp_twork_fn))) {
			kfree(container_of(cb, struct kp_twork, cb));
			atomic_dec(&kp_tworks);
		}
	}
	kp_pending_free(p);
}

/* Module exit: the requests already running have left this module's code. */
void kp_selfswitch_wait(void)
{
	while (atomic_read(&kp_tworks))
		msleep(20);
}
