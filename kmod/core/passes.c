// SPDX-License-Identifier: GPL-2.0
/*
 * passes.c - the passes of a transition over the tasks (transition.c says
 * when each runs):
 *   full pass    stop_machine: the first pass of a transition, or the pass
 *                that reverses one: every stack (idle tasks included) is
 *                checked (stack.c); if no task holds the code the switch
 *                leaves, the version stacks flip at once, else the holders go
 *                in a new table of pending tasks and the patch's functions
 *                are marked in transition.  Runs on every CPU: the NMI
 *                handshake below.
 *   task pass    every later pass: no machine stop; each pending task whose
 *                stack is clean now switches, one at a time.
 *   canary pass  stop_machine: takes the tasks a canary selects into a table
 *                of their own.
 * and kp_synchronize(), the wait for every handler, NMI and task work that
 * may still see what was unpublished.  Before each pass every online CPU
 * must answer (cpus.c): a CPU that cannot reach its stopper would hold every
 * other CPU in stop_machine forever; the pass then fails with -ETIMEDOUT.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/ktime.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/stop_machine.h>
#include <linux/workqueue.h>
#include "cpus.h"
#include "kallsyms.h"
#include "params.h"
#include "passes.h"
#include "redirect.h"

static struct work_struct __percpu *kp_sync_works;
static DEFINE_MUTEX(kp_sync_mutex);	/* one user of kp_sync_works at a time */

/* A table for every task there is now, and @room more. */
struct kp_pending *kp_pass_table(unsigned int room, bool to_patched)
{
	struct task_struct *g, *task;
	unsigned int n = 0;

	rcu_read_lock();
	for_each_process_thread(g, task)
		n++;
	rcu_read_unlock();
	return kp_pending_alloc(n + num_possible_cpus() + room, to_patched);
}

static bool kp_task_dead(struct task_struct *task)
{
	return READ_ONCE(task->__state) == TASK_DEAD;
}

/*
 * Inside stop_machine, with every task on the state the transition leaves
 * (the table says so): mark @patch's versions in transition, pushing them
 * when enabling, each mark set before its push.
 */
static void kp_mark_funcs(struct kp_patch *patch, bool enable)
{
	struct kp_object *obj;
	struct kp_func *func;

	kp_for_each_object_all(patch, obj) {
		kp_for_each_func(obj, func) {
			if (enable && func->ops && !func->patched) {
				WRITE_ONCE(func->transition, true);
				kp_push_version(func);
			} else if (func->patched) {
				WRITE_ONCE(func->transition, true);
			}
		}
	}
}

/* Every task is on the target: take the versions out when disabling. */
bool kp_pop_funcs(struct kp_patch *patch, bool enabled)
{
	struct kp_object *obj;
	struct kp_func *func;
	bool popped = false;

	if (enabled)
		return false;
	kp_for_each_object_all(patch, obj) {
		kp_for_each_func(obj, func) {
			if (func->patched) {
				kp_pop_version(func);
				popped = true;
			}
		}
	}
	return popped;
}

/* ... and the marks go: with or without them every task picks the same. */
void kp_unmark_funcs(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;

	kp_for_each_object_all(patch, obj)
		kp_for_each_func(obj, func)
			WRITE_ONCE(func->transition, false);
}

static void kp_full_pass_task(struct kp_pass *ps, struct task_struct *task)
{
	unsigned long addr;

	/* Pending in the other direction: it is on the new target already. */
	if (ps->cur && kp_pending_has(ps->cur, task))
		return;
	if (kp_task_dead(task))
		return;
	if (kp_stack_blocks(&ps->c, task, &addr) &&
	    !kp_pending_add(ps->build, task, addr))
		ps->overflow = true;
}

/*
 * NMIs and the full pass.  An NMI runs the state of the task it interrupts,
 * and that state must not change while the NMI runs, or an NMI that calls f
 * and then g can run the old f and the new g (livepatch's rule: a running
 * task's patch_state changes only in its own context; klp_try_switch_task()
 * leaves running tasks alone).  Inside stop_machine the running tasks are
 * the stoppers, and only NMIs interrupt them.  So the full pass runs on every
 * CPU: one stopper (the first online CPU's) decides, the others wait in
 * kp_pass_follow().  It puts every stopper, itself included, in the table as
 * pending, flips (an NMI on its own CPU can come between two of its writes:
 * pending, it sees no change), and then each switches itself with one store:
 * an NMI on its CPU sees it before or after, never in between.
 *
 * Steps of the other stoppers, each acknowledged from task context, so an
 * acknowledgement also says that no NMI begun before the step is still
 * running on that CPU: KP_STEP_SWITCH, switch yourself; KP_STEP_SYNC, only
 * acknowledge (the grace period between taking a version out and clearing
 * the marks that livepatch gets from klp_synchronize_transition(), which
 * cannot run inside stop_machine); KP_STEP_END, return.
 */
enum { KP_STEP_SCAN, KP_STEP_SWITCH, KP_STEP_SYNC, KP_STEP_END };

/* The deciding stopper: make the others do @step and wait until they did. */
static void kp_pass_step(struct kp_pass *ps, int step)
{
	unsigned int others = num_online_cpus() - 1;

	atomic_set(&ps->acks, 0);
	/* What this stopper wrote before is seen with the step. */
	smp_store_release(&ps->step, step);
	while (atomic_read(&ps->acks) < others)
		cpu_relax();
}

static void kp_pass_follow(struct kp_pass *ps)
{
	int seen = KP_STEP_SCAN, step;

	/* Pairs with kp_pass_step(): the table is there with the step. */
	while ((step = smp_load_acquire(&ps->step)) != KP_STEP_END) {
		if (step == seen) {
			cpu_relax();
			continue;
		}
		if (step == KP_STEP_SWITCH)
			kp_pending_switch(ps->build, current);
		seen = step;
		atomic_inc(&ps->acks);
	}
}

/*
 * The deciding stopper's scan: the stoppers (running) are pending on the
 * state they are in; every other task is checked.  False on overflow.
 */
static bool kp_full_pass_scan(struct kp_pass *ps)
{
	struct task_struct *g, *task;
	int cpu;

	if (kp_fault_inject_overflow())
		ps->overflow = true;
	for_each_process_thread(g, task) {
		/*
		 * Running: this stopper or another CPU's, in kp_pass_follow().
		 * Its stack is stop_machine's, as checked before; it stays on
		 * the state it is in and switches itself (KP_STEP_SWITCH).
		 */
		if (task == current || READ_ONCE(task->on_cpu)) {
			if (!kp_pending_add(ps->build, task, 0))
				ps->overflow = true;
			continue;
		}
		kp_full_pass_task(ps, task);
	}
	for_each_online_cpu(cpu) {
		task = kp_idle_task(cpu);
		if (!kp_fault_inject_idle_pending())
			kp_full_pass_task(ps, task);
		else if (!kp_pending_add(ps->build, task, 0))
			ps->overflow = true;
	}
	return !ps->overflow;
}

/* Decide which tasks are pending for ps->to_patched.  Runs on every CPU. */
static int kp_full_pass_fn(void *data)
{
	struct kp_pass *ps = data;
	u64 start = ktime_get_ns();
	unsigned long addr;

	if (smp_processor_id() != cpumask_first(cpu_online_mask)) {
		kp_pass_follow(ps);
		return 0;
	}
	/*
	 * The stoppers run stop_machine's code: a patch of it could never be
	 * switched safely (and this one would block itself).
	 */
	if (kp_stack_blocks(&ps->c, current, &addr)) {
		ps->stopper_addr = addr ? addr : 1;
		goto out;
	}
	if (!kp_full_pass_scan(ps))
		goto out;

	kp_pending_install(ps->build);
	smp_wmb();	/* the table before the marks: kp_current_patched() */
	if (ps->first)
		kp_mark_funcs(ps->patch, ps->to_patched);
	kp_pass_step(ps, KP_STEP_SWITCH);
	kp_pending_switch(ps->build, current);
	if (ps->first && !kp_pending_left(ps->build)) {	/* all switched at once */
		/*
		 * As the completion of a transition: the versions being
		 * removed go, and only when no NMI can still hold them do the
		 * marks go.
		 */
		if (kp_pop_funcs(ps->patch, ps->to_patched))
			kp_pass_step(ps, KP_STEP_SYNC);
		kp_unmark_funcs(ps->patch);
		kp_pending_install(NULL);
		ps->done = true;
		goto out;
	}
	kp_ranges_install(ps->c.ranges);
	(*ps->gen)++;
	ps->done = !kp_pending_left(ps->build);
out:
	/* The others return: nothing more they must see or do. */
	smp_store_release(&ps->step, KP_STEP_END);
	ps->pause_ns = ktime_get_ns() - start;
	return 0;
}

/*
 * Run a full pass: on return (0) ps->build is the table in force, with
 * ps->c.ranges the ranges installed, unless ps->done after a first pass:
 * flipped at once, nothing installed.  ps->overflow: the table was too small.
 * -ETIMEDOUT: a CPU did not answer, nothing was done.
 */
int kp_pass_full(struct kp_pass *ps)
{
	ps->overflow = false;
	ps->step = KP_STEP_SCAN;
	return kp_cpus_stop(kp_full_pass_fn, ps, cpu_online_mask);
}

/* One pending task of ps->cur, checked and switched by the task pass. */
struct kp_task_try {
	struct kp_pass *ps;
	unsigned long *addr;	/* its address slot in the table */
};

static bool kp_try_switch(struct kp_task_try *t, struct task_struct *task)
{
	if (!kp_task_dead(task) && kp_stack_blocks(&t->ps->c, task, t->addr))
		return false;
	if (kp_pending_switch(t->ps->cur, task))
		t->ps->switched++;
	return true;
}

/*
 * Through task_call_func(): @task neither runs nor wakes meanwhile.  One that
 * is on a CPU is left alone (its stack cannot be read reliably, and its
 * state changes only in its own context: an NMI there must see no change),
 * unless it is the task running this pass.
 */
static int kp_task_switch_fn(struct task_struct *task, void *data)
{
	if (task != current && READ_ONCE(task->on_cpu))
		return -EBUSY;
	return kp_try_switch(data, task) ? 0 : -EAGAIN;
}

/* On an idle task's CPU, in its stopper: the idle task is not running. */
static int kp_idle_switch_fn(void *data)
{
	struct kp_task_try *t = data;

	kp_try_switch(t, kp_idle_task(smp_processor_id()));
	return 0;
}

/*
 * The task pass, every pass after the first (livepatch's
 * klp_try_complete_transition()): each pending task of ps->cur in turn, in a
 * fixed state, switched if its stack is clean now; no CPU stops.  A running
 * task is left for the next pass, or to switch itself on its way back to user
 * space (selfswitch.c).  The idle task of an online CPU runs whenever that
 * CPU has nothing else to do (livepatch switches it from the idle loop, which
 * a module cannot): its CPU alone is stopped, once every CPU answered, and
 * its stack read there.  Called with kp_mutex held; cond_resched() between
 * tasks, nothing held across them.  -ETIMEDOUT: a CPU did not answer.
 */
int kp_pass_tasks(struct kp_pass *ps)
{
	struct kp_pending *p = ps->cur;
	unsigned int i, n = kp_pending_nr(p);
	bool idle = false;
	int cpu, ret = 0;

	for (i = 0; i < n; i++) {
		struct kp_task_try t = { .ps = ps };
		struct task_struct *task = kp_pending_task(p, i, &t.addr);

		if (!task)
			continue;
		if (is_idle_task(task) && cpu_online(task_cpu(task))) {
			idle = true;
			continue;
		}
		kp_task_call_func(task, kp_task_switch_fn, &t);
		cond_resched();
	}
	for_each_online_cpu(cpu) {
		struct kp_task_try t = { .ps = ps };
		struct task_struct *task = kp_idle_task(cpu);

		if (!idle || !kp_pending_has(p, task))
			continue;
		for (i = 0; i < n; i++)
			if (kp_pending_task(p, i, &t.addr) == task)
				break;
		if (i < n)
			ret = kp_cpus_stop_one(cpu, kp_idle_switch_fn, &t) ?: ret;
	}
	ps->done = !kp_pending_left(p);
	return ret;
}

/*
 * The pass that opens a canary (stop_machine, one CPU: the running tasks are
 * the stoppers, never canary tasks, and stay on the old code, so no NMI sees
 * a state change under it).  Every task ps->selects() must hold none of the
 * code it leaves (the old functions, the versions below); then the table of
 * the canary tasks, pending in a disabling transition toward the old code,
 * goes in before the versions are pushed in transition: the canary tasks run
 * the new versions, every other task the old ones.
 */
static int kp_canary_pass_fn(void *data)
{
	struct kp_pass *ps = data;
	struct task_struct *g, *task;
	u64 start = ktime_get_ns();
	unsigned long addr;

	for_each_process_thread(g, task) {
		if (kp_task_dead(task) || !ps->selects(task))
			continue;
		if (kp_stack_blocks(&ps->c, task, &addr))
			ps->blocked = true;
		else if (!kp_pending_add(ps->build, task, 0))
			ps->overflow = true;
	}
	if (ps->blocked || ps->overflow || !kp_pending_nr(ps->build))
		goto out;
	kp_pending_install(ps->build);
	ps->publish(ps->build);
	smp_wmb();	/* the table before the marks: kp_current_patched() */
	kp_mark_funcs(ps->patch, true);
	(*ps->gen)++;
	ps->done = true;
out:
	ps->pause_ns = ktime_get_ns() - start;
	return 0;
}

/* On return (0) with ps->done, ps->build is the table in force. */
int kp_pass_canary(struct kp_pass *ps)
{
	ps->blocked = false;
	ps->overflow = false;
	return kp_cpus_stop(kp_canary_pass_fn, ps, NULL);
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
 * which modules cannot call).  Callers may race (kp_unregister_patch() calls
 * it without kp_mutex): the works are serialised, a work being queued or
 * flushed is never initialised again.
 */
void kp_synchronize(void)
{
	int cpu;

	mutex_lock(&kp_sync_mutex);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct work_struct *w = per_cpu_ptr(kp_sync_works, cpu);

		INIT_WORK(w, kp_sync_cpu);
		queue_work_on(cpu, system_wq, w);
	}
	for_each_online_cpu(cpu)
		flush_work(per_cpu_ptr(kp_sync_works, cpu));
	cpus_read_unlock();
	mutex_unlock(&kp_sync_mutex);
}

int kp_passes_init(void)
{
	kp_sync_works = alloc_percpu(struct work_struct);
	return kp_sync_works ? 0 : -ENOMEM;
}

void kp_passes_exit(void)
{
	free_percpu(kp_sync_works);
}
