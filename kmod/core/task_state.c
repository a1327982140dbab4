// SPDX-License-Identifier: GPL-2.0
/*
 * task_state.c - which version each task runs while a transition is in
 * progress.
 *
 * A transition switches every task from one state of the patch (patched or
 * unpatched) to the other.  Tasks that have not switched yet are "pending";
 * everything else (tasks switched already, tasks created during the
 * transition) runs the target state.  The pending tasks are kept in an
 * open-addressed hash table keyed by task_struct pointer, which the ftrace
 * handler reads for current (interrupts and NMIs therefore see the state of
 * the task they interrupt).
 *
 * The table is built inside stop_machine (transition.c) and only shrinks
 * afterwards: a slot of a task that switched is overwritten with
 * KP_SLOT_SWITCHED, a single store that concurrent readers see either before
 * or after.  Tasks switch either in a stop_machine retry pass (any task whose
 * stack is clean) or by themselves: each pending user task gets a task_work
 * that runs when it returns to user space, checks its own stack and switches
 * it.  The table holds a reference on every task it names, so that a task
 * freed during the transition cannot hand its address to a new task.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/log2.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>
#include "kp_core.h"
#include "task_state.h"

/* Self-switch request queued on a pending user task. */
struct kp_twork {
	struct callback_head cb;
	unsigned int gen;
};

struct kp_pending __rcu *kp_pending_now;
static atomic_t kp_tworks = ATOMIC_INIT(0);
static unsigned long __percpu *kp_self_stack;
static struct work_struct __percpu *kp_sync_works;

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

/* While @all, every task counts as pending, whatever the table holds. */
void kp_pending_set_all(struct kp_pending *p, bool all)
{
	WRITE_ONCE(p->all_pending, all);
}

bool kp_pending_has(struct kp_pending *p, struct task_struct *task)
{
	return READ_ONCE(*kp_slot(p, task)) == task;
}

/* @task is at the target now.  Returns true if it was pending. */
bool kp_pending_switch(struct kp_pending *p, struct task_struct *task)
{
	struct task_struct **slot = kp_slot(p, task);

	/* The task's own task work and force may race: one of them wins. */
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

/* The @i-th inserted task if it is still pending, else NULL. */
struct task_struct *kp_pending_task(struct kp_pending *p, unsigned int i,
				    unsigned long **addr)
{
	struct task_struct *task = p->tasks[i];

	if (addr)
		*addr = &p->addrs[i];
	return kp_pending_has(p, task) ? task : NULL;
}

static bool kp_twork_match(struct callback_head *cb, void *data)
{
	return cb->func == data;
}

static void kp_twork_fn(struct callback_head *cb);

/* Drop the self-switch requests still queued on the tasks of @p. */
static void kp_pending_cancel_tworks(struct kp_pending *p)
{
	struct callback_head *cb;
	unsigned int i;

	for (i = 0; i < p->nr; i++) {
		while ((cb = kp_task_work_cancel(p->tasks[i], kp_twork_match,
						 kp_twork_fn))) {
			kfree(container_of(cb, struct kp_twork, cb));
			atomic_dec(&kp_tworks);
		}
	}
}

void kp_pending_free(struct kp_pending *p)
{
	unsigned int i;

	if (!p)
		return;
	if (p->tasks) {
		kp_pending_cancel_tworks(p);
		for (i = 0; i < p->nr; i++)
			put_task_struct(p->tasks[i]);
	}
	kvfree(p->slots);
	kvfree(p->tasks);
	kvfree(p->addrs);
	kfree(p);
}

/*
 * Make @p the table the ftrace handler reads (NULL: none) and return the
 * previous one, which the caller frees after kp_synchronize().  Called under
 * kp_mutex, or inside stop_machine on behalf of its holder.
 */
struct kp_pending *kp_pending_install(struct kp_pending *p)
{
	struct kp_pending *old = rcu_dereference_protected(kp_pending_now, true);

	rcu_assign_pointer(kp_pending_now, p);
	return old;
}

/*
 * Task work: the pending task is on its way back to user space (or inside
 * another task_work_run() caller).  Switch it if its own stack is clean.
 */
static void kp_twork_fn(struct callback_head *cb)
{
	struct kp_twork *w = container_of(cb, struct kp_twork, cb);
	struct kp_pending *p;

	preempt_disable();	/* no stop_machine pass meanwhile */
	p = rcu_dereference_sched(kp_pending_now);
	if (p && kp_transition_gen() == w->gen &&
	    kp_pending_has(p, current) &&
	    !kp_stack_blocks_self(this_cpu_ptr(kp_self_stack), KP_STACK_ENTRIES) &&
	    kp_pending_switch(p, current) && !kp_pending_left(p))
		kp_transition_kick();
	preempt_enable();
	kfree(w);
	atomic_dec(&kp_tworks);
}

/* Ask @task to switch itself when it next returns to user space. */
void kp_pending_queue_twork(struct task_struct *task, unsigned int gen)
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

int kp_task_state_init(void)
{
	kp_self_stack = __alloc_percpu(KP_STACK_ENTRIES * sizeof(unsigned long),
				       sizeof(unsigned long));
	kp_sync_works = alloc_percpu(struct work_struct);
	if (!kp_self_stack || !kp_sync_works) {
		free_percpu(kp_self_stack);
		free_percpu(kp_sync_works);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Wait for the task works that were already running when they were
 * cancelled, until they have left this module's code (a task preempted right
 * after its last statement included: RCU tasks waits for it to schedule
 * voluntarily or go to user space).
 */
void kp_task_state_exit(void)
{
	while (atomic_read(&kp_tworks))
		msleep(20);
	synchronize_rcu_tasks();
	free_percpu(kp_self_stack);
	free_percpu(kp_sync_works);
}

static void kp_sync_cpu(struct work_struct *work)
{
}

/*
 * Wait until no ftrace handler, NMI or task work can still see what was
 * unpublished before the call.  The handler can run where RCU is not
 * watching, so synchronize_rcu() is not enough: a work run on every CPU
 * cannot run there before such a caller (preemption disabled) is done, as
 * livepatch does in klp_synchronize_transition() (schedule_on_each_cpu(),
 * which modules cannot call).
 */
void kp_synchronize(void)
{
	int cpu;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct work_struct *w = per_cpu_ptr(kp_sync_works, cpu);

		INIT_WORK(w, kp_sync_cpu);
		queue_work_on(cpu, system_wq, w);
	}
	for_each_online_cpu(cpu)
		flush_work(per_cpu_ptr(kp_sync_works, cpu));
	cpus_read_unlock();
}
