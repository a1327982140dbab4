// SPDX-License-Identifier: GPL-2.0
/*
 * transition.c - switch a patch on or off only where no task is inside the
 * code being replaced: one stop_machine pass when it can, task by task when
 * it cannot (the hybrid consistency model).
 *
 * First pass (stop_machine, on every CPU so that no NMI sees a running
 * task's state change under it: kp_pass_step()): every stack (idle tasks
 * included) is walked with the reliable (ORC) unwinder.  If no return
 * address lies in the code the switch leaves (ranges below), the version
 * stacks flip at once: done.
 * Otherwise the tasks that hold such code are recorded as pending (a
 * pending.c table) and the patch's functions are marked in transition: the
 * ftrace handler then sends pending tasks to the version they ran before and
 * every other task, new tasks included, to the target version.
 *
 * Pending tasks switch by themselves on their way back to user space (a task
 * work checks their own stack), and a retry pass (stop_machine, pending tasks
 * only) runs every retry_interval_ms.  When none is left the transition
 * completes.  After the patch's timeout it reverses: the target flips, a new
 * full pass decides who is pending in the other direction, and the same
 * rules bring every task back.  Writing the other value to "enabled" reverses
 * at once; "force" switches every pending task without a check.
 *
 * One transition at a time, serialised by kp_mutex.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/stop_machine.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>
#include "canary.h"
#include "kallsyms.h"
#include "redirect.h"
#include "transition.h"

#define KP_STACK_ENTRIES	128

/* A parameter for which 0 means nothing sensible. */
static int kp_param_set_nonzero(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (!n)
		return -EINVAL;
	*(unsigned int *)kp->arg = n;
	return 0;
}

static const struct kernel_param_ops kp_param_nonzero = {
	.set = kp_param_set_nonzero,
	.get = param_get_uint,
};

unsigned int kp_timeout_s = 60;
module_param_cb(transition_timeout, &kp_param_nonzero, &kp_timeout_s, 0644);
MODULE_PARM_DESC(transition_timeout, "seconds a transition may take before it reverses (default; a patch may set its own)");

static unsigned int kp_signal_s = 15;
module_param_named(signal_after, kp_signal_s, uint, 0644);
MODULE_PARM_DESC(signal_after, "seconds into a transition before pending tasks are kicked out of their sleeps (fake signal), and again every as many (0: never)");

static unsigned int kp_retry_ms = 100;
module_param_cb(retry_interval_ms, &kp_param_nonzero, &kp_retry_ms, 0644);
MODULE_PARM_DESC(retry_interval_ms, "interval of the retry passes over the pending tasks");

struct kp_range {
	unsigned long start;
	unsigned long end;
};

struct kp_ranges {
	unsigned int nr;
	struct kp_range r[];
};

/* The transition in progress (patch NULL: none).  Changed under kp_mutex. */
static struct {
	struct kp_patch *patch;
	bool to_patched;		/* target state: patched (enabling) */
	bool reversed;
	bool canary;			/* a canary held open (canary.c) */
	bool aborted;			/* a canary being aborted */
	unsigned int gen;		/* bumped when the target or the tasks change */
	u64 start_ns;
	u64 signal_ns;			/* when pending tasks were last kicked */
	u64 pause_ns_max;
	unsigned int passes;
	unsigned int first_pending;
	unsigned int nr_tasks;
	struct kp_pending *pending;
	struct delayed_work work;
} kp_trans;

/* What the switch leaves, read by the self-switch task work under RCU-sched. */
static struct kp_ranges __rcu *kp_ranges_now;

struct kp_pending __rcu *kp_pending_now;

/* Self-switch request queued on a pending user task. */
struct kp_twork {
	struct callback_head cb;
	unsigned int gen;
};

static atomic_t kp_tworks = ATOMIC_INIT(0);
static unsigned long __percpu *kp_self_stack;
static struct work_struct __percpu *kp_sync_works;
static DEFINE_MUTEX(kp_sync_mutex);	/* one user of kp_sync_works at a time */

/* What one stop_machine pass saw, filled inside stop_machine. */
struct kp_pass_stats {
	unsigned int nr_tasks;
	u64 pause_ns;
	struct kp_blockers blocked;
};

/* One pass: inside stop_machine, serialised by kp_mutex. */
struct kp_pass {
	struct kp_pass_stats t;
	struct kp_ranges *ranges;
	struct kp_pending *build;	/* full pass: the new pending table */
	bool first;			/* may flip at once */
	bool overflow;
	unsigned long stopper_addr;	/* the patch replaces stop_machine code */
	bool done;			/* no task left on the old state */
	bool blocked;			/* canary: a canary task holds old code */
	unsigned int switched;
	int step;			/* full pass: what the other stoppers do */
	atomic_t acks;			/* stoppers that did it */
};

static unsigned long *kp_stack_buf;

static void kp_add_range(struct kp_ranges *r, unsigned long start,
			 unsigned long size)
{
	if (!start || !size)
		return;
	r->r[r->nr].start = start;
	r->r[r->nr].end = start + size;
	r->nr++;
}

/*
 * The code that must not be on the stack of a task that switches: toward the
 * patched state, the old functions and the versions in force below this
 * patch; toward the unpatched state, the whole core text of the patch module
 * (its replacements, their .cold parts and the helpers they call or
 * tail-call, none of which needs a record: the module may go once the patch
 * is disabled) and the old functions, which only appear while a call is
 * inside the ftrace trampoline.
 */
static struct kp_ranges *kp_collect_ranges(struct kp_patch *patch,
					   bool to_patched)
{
	struct kp_object *obj;
	struct kp_func *func, *below;
	struct kp_ranges *r;
	unsigned int n = 0;

	kp_for_each_object(patch, obj)
		n += obj->nr_funcs;
	r = kzalloc(struct_size(r, r, 2 * n + 1), GFP_KERNEL);
	if (!r)
		return NULL;
	if (!to_patched)
		kp_add_range(r, (unsigned long)patch->mod->core_layout.base,
			     patch->mod->core_layout.text_size);

	kp_for_each_object(patch, obj) {
		kp_for_each_func(obj, func) {
			if (!func->ops)
				continue;
			kp_add_range(r, func->old_addr, func->old_size);
			if (to_patched) {
				below = func->patched ? kp_next_version(func) :
					kp_top_version(func);
				if (below)
					kp_add_range(r, below->new_addr, below->new_size);
			}
		}
	}
	return r;
}

static unsigned long kp_in_ranges(const struct kp_ranges *r, unsigned long addr)
{
	unsigned int i;

	for (i = 0; i < r->nr; i++)
		if (addr >= r->r[i].start && addr < r->r[i].end)
			return addr;
	return 0;
}

static void kp_record_blocker(struct kp_blockers *bl, struct task_struct *task,
			      unsigned long addr, int err,
			      const unsigned long *entries, int nr)
{
	struct kp_blocker *b;

	bl->total++;
	if (bl->nr >= KP_MAX_BLOCKERS)
		return;
	b = &bl->b[bl->nr++];
	b->pid = task->pid;
	strscpy(b->comm, task->comm, sizeof(b->comm));
	b->addr = addr;
	b->err = err;
	b->nr_entries = nr > 0 ? min_t(int, nr, KP_BLOCKER_DEPTH) : 0;
	if (b->nr_entries)
		memcpy(b->entries, entries, b->nr_entries * sizeof(*entries));
}

static bool kp_task_dead(struct task_struct *task)
{
	return READ_ONCE(task->__state) == TASK_DEAD;
}

/*
 * Does @task (not running: inside stop_machine) hold code the switch leaves?
 * Records why in @ps and the address in @addr (0: unreliable stack).
 */
static bool kp_task_blocks(struct kp_pass *ps, struct task_struct *task,
			   unsigned long *addr)
{
	unsigned long hit = 0;
	int nr, i;

	ps->t.nr_tasks++;
	*addr = 0;
	nr = kp_stack_reliable(task, kp_stack_buf, KP_STACK_ENTRIES);
	if (nr < 0) {
		kp_record_blocker(&ps->t.blocked, task, 0, nr, NULL, 0);
		return true;
	}
	for (i = 0; i < nr && !hit; i++)
		hit = kp_in_ranges(ps->ranges, kp_stack_buf[i]);
	if (!hit)
		return false;
	*addr = hit;
	kp_record_blocker(&ps->t.blocked, task, hit, 0, kp_stack_buf, nr);
	return true;
}

/* The same question for current, from its own task work (preemption off). */
static bool kp_stack_blocks_self(unsigned long *buf, unsigned int size)
{
	struct kp_ranges *r = rcu_dereference_sched(kp_ranges_now);
	int nr, i;

	if (!r)
		return true;
	nr = kp_stack_reliable(current, buf, size);
	if (nr < 0)
		return true;
	for (i = 0; i < nr; i++)
		if (kp_in_ranges(r, buf[i]))
			return true;
	return false;
}

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
	p = rcu_dereference_sched(kp_pending_now);
	if (p && READ_ONCE(kp_trans.gen) == w->gen &&
	    kp_pending_has(p, current) &&
	    !kp_stack_blocks_self(this_cpu_ptr(kp_self_stack), KP_STACK_ENTRIES) &&
	    kp_pending_switch(p, current) && !kp_pending_left(p))
		mod_delayed_work(system_wq, &kp_trans.work, 0);
	preempt_enable();
	kfree(w);
	atomic_dec(&kp_tworks);
}

/* Ask @task to switch itself when it next returns to user space. */
static void kp_queue_twork(struct task_struct *task, unsigned int gen)
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
static void kp_pending_drop(struct kp_pending *p)
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

/*
 * Make @p the table the ftrace handler reads (NULL: none) and return the
 * previous one, which the caller frees after kp_synchronize().  Called under
 * kp_mutex, or inside stop_machine on behalf of its holder.
 */
static struct kp_pending *kp_pending_install(struct kp_pending *p)
{
	struct kp_pending *old = rcu_dereference_protected(kp_pending_now, true);

	rcu_assign_pointer(kp_pending_now, p);
	return old;
}

/*
 * Make a task that sleeps interruptibly leave its sleep: a kthread is woken
 * (its wait loop re-checks and sleeps again, possibly elsewhere); a user task
 * gets a fake signal (TIF_NOTIFY_SIGNAL, as set_notify_signal() does): its
 * system call returns to user space and restarts, running its task works on
 * the way.  What livepatch does in klp_send_signals().
 */
static void kp_kick_task(struct task_struct *task)
{
	if (task->flags & PF_KTHREAD)
		kp_wake_up_state(task, TASK_INTERRUPTIBLE);
	else if (!test_and_set_tsk_thread_flag(task, TIF_NOTIFY_SIGNAL) &&
		 !kp_wake_up_state(task, TASK_INTERRUPTIBLE))
		kick_process(task);
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

	kp_for_each_object(patch, obj) {
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
static bool kp_pop_funcs(struct kp_patch *patch, bool enabled)
{
	struct kp_object *obj;
	struct kp_func *func;
	bool popped = false;

	if (enabled)
		return false;
	kp_for_each_object(patch, obj) {
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
static void kp_unmark_funcs(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;

	kp_for_each_object(patch, obj)
		kp_for_each_func(obj, func)
			WRITE_ONCE(func->transition, false);
}

static void kp_full_pass_task(struct kp_pass *ps, struct task_struct *task,
			      struct kp_pending *old)
{
	unsigned long addr;

	/* Pending in the other direction: it is on the new target already. */
	if (old && kp_pending_has(old, task))
		return;
	if (kp_task_dead(task))
		return;
	if (kp_task_blocks(ps, task, &addr) &&
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
 * First pass of a transition, or the pass that reverses one: decide which
 * tasks are pending for the target kp_trans.to_patched.  Runs on every CPU.
 */
static int kp_full_pass_fn(void *data)
{
	struct kp_pass *ps = data;
	struct kp_pending *old = kp_trans.pending;
	struct task_struct *g, *task;
	u64 start = ktime_get_ns();
	unsigned long addr;
	int cpu;

	if (smp_processor_id() != cpumask_first(cpu_online_mask)) {
		kp_pass_follow(ps);
		return 0;
	}
	/*
	 * The stoppers run stop_machine's code: a patch of it could never be
	 * switched safely (and this one would block itself).
	 */
	if (kp_task_blocks(ps, current, &addr)) {
		ps->stopper_addr = addr ? addr : 1;
		goto out;
	}
	for_each_process_thread(g, task) {
		/*
		 * Running: this stopper or another CPU's, in kp_pass_follow().
		 * Its stack is stop_machine's, as checked above; it stays on
		 * the state it is in and switches itself (KP_STEP_SWITCH).
		 */
		if (task == current || READ_ONCE(task->on_cpu)) {
			if (!kp_pending_add(ps->build, task, 0))
				ps->overflow = true;
			continue;
		}
		kp_full_pass_task(ps, task, old);
	}
	for_each_online_cpu(cpu)
		kp_full_pass_task(ps, kp_idle_task(cpu), old);
	if (ps->overflow)
		goto out;

	kp_pending_install(ps->build);
	smp_wmb();	/* the table before the marks: kp_current_patched() */
	if (ps->first)
		kp_mark_funcs(kp_trans.patch, kp_trans.to_patched);
	kp_pass_step(ps, KP_STEP_SWITCH);
	kp_pending_switch(ps->build, current);
	if (ps->first && !kp_pending_left(ps->build)) {	/* all switched at once */
		/*
		 * As kp_complete(): the versions being removed go, and only
		 * when no NMI can still hold them do the marks go.
		 */
		if (kp_pop_funcs(kp_trans.patch, kp_trans.to_patched))
			kp_pass_step(ps, KP_STEP_SYNC);
		kp_unmark_funcs(kp_trans.patch);
		kp_pending_install(NULL);
		ps->done = true;
		goto out;
	}
	kp_trans.pending = ps->build;
	rcu_assign_pointer(kp_ranges_now, ps->ranges);
	kp_trans.gen++;
	ps->done = !kp_pending_left(ps->build);
out:
	/* The others return: nothing more they must see or do. */
	smp_store_release(&ps->step, KP_STEP_END);
	ps->t.pause_ns = ktime_get_ns() - start;
	return 0;
}

/* Retry: switch the pending tasks whose stacks are clean now. */
static int kp_retry_pass_fn(void *data)
{
	struct kp_pass *ps = data;
	struct kp_pending *p = kp_trans.pending;
	u64 start = ktime_get_ns();
	unsigned int i, n = kp_pending_nr(p);

	for (i = 0; i < n; i++) {
		unsigned long *addr;
		struct task_struct *task = kp_pending_task(p, i, &addr);

		if (!task)
			continue;
		if (kp_task_dead(task) || !kp_task_blocks(ps, task, addr)) {
			kp_pending_switch(p, task);
			ps->switched++;
		}
	}
	ps->done = !kp_pending_left(p);
	ps->t.pause_ns = ktime_get_ns() - start;
	return 0;
}

static unsigned int kp_count_tasks(void)
{
	struct task_struct *g, *task;
	unsigned int n = 0;

	rcu_read_lock();
	for_each_process_thread(g, task)
		n++;
	rcu_read_unlock();
	return n + num_possible_cpus();
}

static void kp_pass_stats(struct kp_pass *ps)
{
	kp_trans.passes++;
	kp_trans.pause_ns_max = max(kp_trans.pause_ns_max, ps->t.pause_ns);
}

/* Log the tasks that held a transition and keep them for sysfs "blocked". */
static void kp_report_blockers(struct kp_patch *patch,
			       const struct kp_blockers *bl)
{
	unsigned int i, k;

	for (i = 0; i < bl->nr; i++) {
		const struct kp_blocker *b = &bl->b[i];

		if (b->addr)
			pr_err("%s: task %d (%s) is inside %pS\n", patch->name,
			       b->pid, b->comm, (void *)b->addr);
		else
			pr_err("%s: task %d (%s) has an unreliable stack (%d)\n",
			       patch->name, b->pid, b->comm, b->err);
		for (k = 0; k < b->nr_entries; k++)
			pr_err("%s:     %pS\n", patch->name, (void *)b->entries[k]);
	}
	if (bl->total > bl->nr)
		pr_err("%s: ... and %u more blocking tasks\n", patch->name,
		       bl->total - bl->nr);
	kfree(patch->blocked);
	patch->blocked = kmemdup(bl, sizeof(*bl), GFP_KERNEL);
}

static const char *kp_dir_name(bool to_patched)
{
	return to_patched ? "enable" : "disable";
}

/*
 * Run a full pass toward kp_trans.to_patched.  On success the pending tasks
 * are installed (or the flip is done); returns -ENOMEM, or -EAGAIN when
 * tasks appeared faster than the table grew.
 */
static int kp_run_full_pass(struct kp_pass *ps)
{
	struct kp_pending *old = kp_trans.pending;
	struct kp_ranges *old_ranges = rcu_dereference_protected(kp_ranges_now,
						lockdep_is_held(&kp_mutex));
	unsigned int i, tries;
	int ret = 0;

	ps->ranges = kp_collect_ranges(kp_trans.patch, kp_trans.to_patched);
	if (!ps->ranges)
		return -ENOMEM;
	for (tries = 0; tries < 3; tries++) {
		ps->build = kp_pending_alloc(kp_count_tasks() + 64,
					     kp_trans.to_patched);
		if (!ps->build) {
			ret = -ENOMEM;
			break;
		}
		memset(&ps->t, 0, sizeof(ps->t));
		ps->overflow = false;
		ps->step = KP_STEP_SCAN;
		ret = stop_machine(kp_full_pass_fn, ps, cpu_online_mask);
		kp_pass_stats(ps);
		if (!ret && ps->stopper_addr) {
			pr_err("%s: it replaces code that stop_machine itself runs (%pS): refused\n",
			       kp_trans.patch->name, (void *)ps->stopper_addr);
			ret = -EINVAL;
		}
		if (ret == -EINVAL) {
			kp_pending_drop(ps->build);
			ps->build = NULL;
			break;
		}
		if (!ret && !ps->overflow)
			break;
		kp_pending_drop(ps->build);
		ps->build = NULL;
		ret = ret ?: -EAGAIN;
	}
	if (ret) {
		kfree(ps->ranges);
		return ret;
	}
	if (ps->first && ps->done) {	/* flipped at once: table uninstalled */
		kp_synchronize();
		kp_pending_drop(ps->build);
		kfree(ps->ranges);
		return 0;
	}
	if (old || old_ranges) {
		kp_synchronize();
		kp_pending_drop(old);
		kfree(old_ranges);
	}
	for (i = 0; i < kp_pending_nr(ps->build); i++) {
		struct task_struct *task = kp_pending_task(ps->build, i, NULL);

		if (task)
			kp_queue_twork(task, kp_trans.gen);
	}
	return 0;
}

/* Every task is on the target: end the transition (kp_mutex held). */
static void kp_complete(void)
{
	struct kp_patch *patch = kp_trans.patch;
	bool enabled = kp_trans.to_patched;
	struct kp_pending *old;
	struct kp_ranges *ranges;
	u64 us = div_u64(ktime_get_ns() - kp_trans.start_ns, NSEC_PER_USEC);

	/*
	 * Every task runs the target.  Versions being removed go first, and
	 * only when no handler can still reach them do the marks go; then the
	 * table.
	 */
	if (kp_pop_funcs(patch, enabled))
		kp_synchronize();
	kp_unmark_funcs(patch);
	old = kp_pending_install(NULL);
	ranges = rcu_dereference_protected(kp_ranges_now,
					   lockdep_is_held(&kp_mutex));
	RCU_INIT_POINTER(kp_ranges_now, NULL);
	kp_trans.pending = NULL;
	kp_trans.patch = NULL;
	kp_trans.gen++;
	cancel_delayed_work(&kp_trans.work);
	kp_synchronize();
	kp_pending_drop(old);
	kfree(ranges);

	if (kp_trans.aborted) {
		pr_warn("%s: canary aborted: its tasks are back on the old code after %llu us\n",
			patch->name, us);
	} else if (kp_trans.reversed) {
		pr_warn("%s: transition reversed: %s again after %llu us\n",
			patch->name, enabled ? "enabled" : "disabled", us);
	} else {
		kfree(patch->blocked);
		patch->blocked = NULL;
		pr_info("%s: %sd in %llu us: %u of %u task(s) switched after the first pass; %u pass(es), longest stop_machine pause %llu us\n",
			patch->name, kp_dir_name(enabled), us,
			kp_trans.first_pending, kp_trans.nr_tasks,
			kp_trans.passes,
			div_u64(kp_trans.pause_ns_max, NSEC_PER_USEC));
	}
	kp_patch_settled(patch, enabled);
}

/* After a full pass that did not start a transition: end it, or retry. */
static void kp_complete_or_retry(bool done)
{
	if (done)
		kp_complete();
	else
		mod_delayed_work(system_wq, &kp_trans.work,
				 msecs_to_jiffies(kp_retry_ms));
}

/* Flip the target of the transition in progress (kp_mutex held). */
static int kp_reverse(const char *why)
{
	struct kp_patch *patch = kp_trans.patch;
	struct kp_pass *ps;
	int ret;

	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	if (!ps)
		return -ENOMEM;
	pr_warn("%s: reversing the %s transition (%s)\n", patch->name,
		kp_dir_name(kp_trans.to_patched), why);
	kp_trans.to_patched = !kp_trans.to_patched;
	ret = kp_run_full_pass(ps);
	if (ret) {
		kp_trans.to_patched = !kp_trans.to_patched;
		pr_err("%s: cannot reverse the transition: %d\n", patch->name, ret);
		goto out;
	}
	kp_trans.reversed = !kp_trans.reversed;
	kp_trans.aborted = false;	/* an aborted canary is enabling again */
	kp_trans.start_ns = ktime_get_ns();	/* a reversed reversal gets a full timeout */
	kp_trans.signal_ns = kp_trans.start_ns;
	patch->enabled = kp_trans.to_patched;
	patch->transition = kp_trans.to_patched ? KP_ENABLING : KP_DISABLING;
	kp_complete_or_retry(ps->done);
out:
	kfree(ps);
	return ret;
}

/*
 * Every signal_after seconds, kick the pending tasks out of interruptible
 * sleeps: a user task asleep in a replaced function then returns to user
 * space (its system call restarts) and switches there.
 */
static void kp_kick_pending(struct kp_patch *patch)
{
	struct kp_pending *p = kp_trans.pending;
	u64 now = ktime_get_ns(), every = (u64)READ_ONCE(kp_signal_s) * NSEC_PER_SEC;
	unsigned int i, n = 0;

	if (!every || now - kp_trans.signal_ns < every)
		return;
	kp_trans.signal_ns = now;
	for (i = 0; i < kp_pending_nr(p); i++) {
		struct task_struct *task = kp_pending_task(p, i, NULL);

		if (task) {
			kp_kick_task(task);
			n++;
		}
	}
	pr_notice("%s: kicked %u pending task(s) out of their sleeps\n",
		  patch->name, n);
}

static void kp_transition_work_fn(struct work_struct *work)
{
	struct kp_patch *patch;
	unsigned int timeout_s;
	struct kp_pass *ps;
	u64 elapsed;

	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	mutex_lock(&kp_mutex);
	patch = kp_trans.patch;
	if (!patch)
		goto out;
	if (!ps)
		goto again;
	ps->ranges = rcu_dereference_protected(kp_ranges_now,
					       lockdep_is_held(&kp_mutex));
	if (stop_machine(kp_retry_pass_fn, ps, NULL))
		goto again;
	kp_pass_stats(ps);
	if (ps->done) {
		kp_complete();
		goto out;
	}
	elapsed = ktime_get_ns() - kp_trans.start_ns;
	timeout_s = READ_ONCE(patch->timeout_s);
	if (!kp_trans.reversed && elapsed >= (u64)timeout_s * NSEC_PER_SEC) {
		pr_err("%s: cannot %s: %u task(s) still inside the code being replaced after %u s\n",
		       patch->name, kp_dir_name(kp_trans.to_patched),
		       kp_pending_left(kp_trans.pending), timeout_s);
		kp_report_blockers(patch, &ps->t.blocked);
		if (!kp_reverse("timeout"))
			goto out;
	}
	kp_kick_pending(patch);
again:
	mod_delayed_work(system_wq, &kp_trans.work,
			 msecs_to_jiffies(kp_retry_ms));
out:
	mutex_unlock(&kp_mutex);
	kfree(ps);
}

/* A new transition (or a canary's promotion) starts its clock and counters. */
static void kp_trans_reset(bool canary)
{
	kp_trans.reversed = false;
	kp_trans.canary = canary;
	kp_trans.aborted = false;
	kp_trans.start_ns = ktime_get_ns();
	kp_trans.signal_ns = kp_trans.start_ns;
	kp_trans.passes = 0;
	kp_trans.pause_ns_max = 0;
}

/*
 * The pass that opens a canary (stop_machine, one CPU: the running tasks are
 * the stoppers, never canary tasks, and stay on the old code, so no NMI sees
 * a state change under it).  Every task canary.c selects must hold none of
 * the code it leaves (the old functions, the versions below); then the table
 * of the canary tasks, pending in a disabling transition toward the old code,
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
		if (kp_task_dead(task) || !kp_canary_selects(task))
			continue;
		if (kp_task_blocks(ps, task, &addr))
			ps->blocked = true;
		else if (!kp_pending_add(ps->build, task, 0))
			ps->overflow = true;
	}
	if (ps->blocked || ps->overflow || !kp_pending_nr(ps->build))
		goto out;
	kp_pending_install(ps->build);
	kp_canary_publish(ps->build);
	smp_wmb();	/* the table before the marks: kp_current_patched() */
	kp_mark_funcs(kp_trans.patch, true);
	kp_trans.pending = ps->build;
	kp_trans.gen++;
	ps->done = true;
out:
	ps->t.pause_ns = ktime_get_ns() - start;
	return 0;
}

/*
 * Open a canary of @patch (kp_mutex held; functions attached; canary.c
 * selects the tasks).  A canary task inside the code being replaced is
 * waited for, up to ten passes 100 ms apart; then the canary is refused.
 */
int kp_transition_canary(struct kp_patch *patch, unsigned int room)
{
	struct kp_pass *ps;
	unsigned int tries;
	int ret = -EBUSY;

	lockdep_assert_held(&kp_mutex);
	ret = kp_transition_busy(patch, true);
	if (ret)
		return ret;
	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	if (!ps)
		return -ENOMEM;
	ps->ranges = kp_collect_ranges(patch, true);
	if (!ps->ranges) {
		kfree(ps);
		return -ENOMEM;
	}
	kp_trans.patch = patch;
	kp_trans.to_patched = false;
	kp_trans_reset(true);
	for (tries = 0; tries < 10; tries++) {
		if (tries)
			msleep(100);
		ps->build = kp_pending_alloc(kp_count_tasks() + room, false);
		if (!ps->build) {
			ret = -ENOMEM;
			break;
		}
		memset(&ps->t, 0, sizeof(ps->t));
		ps->blocked = false;
		ps->overflow = false;
		ret = stop_machine(kp_canary_pass_fn, ps, NULL);
		kp_pass_stats(ps);
		if (!ret && ps->done)
			break;
		kp_pending_drop(ps->build);
		ps->build = NULL;
		if (!ret && !ps->blocked && !ps->overflow) {
			ret = -ESRCH;	/* every canary process is gone */
			break;
		}
		ret = ret ?: -EBUSY;
	}
	if (ret) {
		if (ps->blocked)
			kp_report_blockers(patch, &ps->t.blocked);
		pr_err("%s: cannot start the canary: %s\n", patch->name,
		       ret == -ESRCH ? "no canary task left" :
		       ret == -EBUSY ? "canary tasks stay inside the code being replaced" :
		       "out of memory");
		kp_trans.patch = NULL;
		kp_trans.canary = false;
	} else {
		patch->enabled = true;
		patch->transition = KP_CANARY;
		kp_trans.nr_tasks = ps->t.nr_tasks;
		pr_info("%s: canary: %u task(s) run the new code, every other task the old (stop_machine pause %llu us)\n",
			patch->name, kp_pending_left(ps->build),
			div_u64(ps->t.pause_ns, NSEC_PER_USEC));
	}
	kfree(ps->ranges);
	kfree(ps);
	return ret;
}

/*
 * Promote the open canary: a normal enabling transition whose full pass
 * leaves the canary tasks alone (pending in the canary's table: on the
 * target already) and makes the others pending where they hold old code.
 */
static int kp_canary_promote(struct kp_patch *patch)
{
	unsigned int canaries = kp_pending_left(kp_trans.pending);
	struct kp_pass *ps;
	int ret;

	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	if (!ps)
		return -ENOMEM;
	kp_canary_close();
	kp_trans.to_patched = true;
	kp_trans_reset(false);
	ret = kp_run_full_pass(ps);
	if (ret) {
		/* Still open, but children no longer follow: say so. */
		kp_trans.to_patched = false;
		kp_trans.canary = true;
		pr_err("%s: cannot promote the canary (%d); new children of canary tasks now run the old code\n",
		       patch->name, ret);
		goto out;
	}
	patch->enabled = true;
	patch->transition = KP_ENABLING;
	kp_trans.nr_tasks = ps->t.nr_tasks;
	kp_trans.first_pending = kp_pending_left(kp_trans.pending);
	pr_info("%s: canary promoted (%u canary task(s), exited ones included): enabling for every task, %u of %u inside the code being replaced switch later\n",
		patch->name, canaries, kp_trans.first_pending, ps->t.nr_tasks);
	kp_complete_or_retry(ps->done);
out:
	kfree(ps);
	return ret;
}

/*
 * Abort the open canary: it goes on as the disabling transition it is
 * shaped as (the canary tasks pending, switching back by themselves or in
 * retry passes), without a timeout: reversing would switch every task to a
 * patch that was judged bad.
 */
static int kp_canary_abort(struct kp_patch *patch)
{
	struct kp_pending *p = kp_trans.pending;
	struct kp_ranges *r, *old;
	unsigned int i;

	r = kp_collect_ranges(patch, false);
	if (!r)
		return -ENOMEM;
	kp_canary_close();
	kp_trans.canary = false;
	kp_trans.reversed = true;	/* no timeout */
	kp_trans.aborted = true;
	kp_trans.start_ns = ktime_get_ns();
	kp_trans.signal_ns = kp_trans.start_ns;
	old = rcu_dereference_protected(kp_ranges_now,
					lockdep_is_held(&kp_mutex));
	rcu_assign_pointer(kp_ranges_now, r);
	kp_trans.gen++;
	patch->enabled = false;
	patch->transition = KP_DISABLING;
	pr_warn("%s: aborting the canary: its %u task(s) (exited ones included) switch back to the old code\n",
		patch->name, kp_pending_left(p));
	if (old) {
		kp_synchronize();
		kfree(old);
	}
	for (i = 0; i < kp_pending_nr(p); i++) {
		struct task_struct *task = kp_pending_task(p, i, NULL);

		if (task)
			kp_queue_twork(task, kp_trans.gen);
	}
	mod_delayed_work(system_wq, &kp_trans.work, 0);
	return 0;
}

/* End the open canary of @patch: promote it, or abort it (kp_mutex held). */
int kp_transition_canary_end(struct kp_patch *patch, bool promote)
{
	lockdep_assert_held(&kp_mutex);
	if (!kp_transition_canary_open(patch))
		return -ENOENT;
	return promote ? kp_canary_promote(patch) : kp_canary_abort(patch);
}

/*
 * Switch @patch on or off (kp_mutex held; its functions of present objects
 * attached).  Returns 0 when the switch is done or in progress (completion or
 * reversal end in kp_patch_settled()), -EBUSY when another patch is in
 * transition.  A request for the patch in transition reverses it.
 */
int kp_transition(struct kp_patch *patch, bool enable)
{
	struct kp_pass *ps;
	int ret;

	lockdep_assert_held(&kp_mutex);
	/* Disabling a patch in canary aborts it; only its file promotes it. */
	if (kp_trans.patch == patch && kp_trans.canary)
		return enable ? 0 : kp_canary_abort(patch);
	if (kp_trans.patch == patch)
		return enable == kp_trans.to_patched ? 0 :
			kp_reverse("requested");
	ret = kp_transition_busy(patch, enable);
	if (ret)
		return ret;

	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	if (!ps)
		return -ENOMEM;
	ps->first = true;
	kp_trans.patch = patch;
	kp_trans.to_patched = enable;
	kp_trans_reset(false);
	ret = kp_run_full_pass(ps);
	if (ret) {
		pr_err("%s: cannot %s: %d\n", patch->name, kp_dir_name(enable), ret);
		kp_trans.patch = NULL;
		goto out;
	}
	patch->enabled = enable;
	kp_trans.nr_tasks = ps->t.nr_tasks;
	if (ps->done) {
		kp_trans.patch = NULL;
		kfree(patch->blocked);
		patch->blocked = NULL;
		pr_info("%s: %sd in %llu us after 1 pass; stop_machine pause %llu us, %u tasks checked\n",
			patch->name, kp_dir_name(enable),
			div_u64(ktime_get_ns() - kp_trans.start_ns, NSEC_PER_USEC),
			div_u64(ps->t.pause_ns, NSEC_PER_USEC), ps->t.nr_tasks);
		kp_patch_settled(patch, enable);
		goto out;
	}
	kp_trans.first_pending = kp_pending_left(kp_trans.pending);
	patch->transition = enable ? KP_ENABLING : KP_DISABLING;
	pr_info("%s: %s in progress: %u of %u task(s) are inside the code being replaced and switch later\n",
		patch->name, enable ? "enabling" : "disabling",
		kp_trans.first_pending, ps->t.nr_tasks);
	mod_delayed_work(system_wq, &kp_trans.work,
			 msecs_to_jiffies(kp_retry_ms));
out:
	kfree(ps);
	return ret;
}

/*
 * Switch every pending task of @patch's transition without checking its
 * stack.  Unsafe by nature: the patch module can never be removed afterwards.
 */
int kp_transition_force(struct kp_patch *patch)
{
	struct kp_pending *p = kp_trans.pending;
	unsigned int i, n;

	lockdep_assert_held(&kp_mutex);
	if (kp_trans.patch != patch || !p || kp_trans.canary)
		return -EINVAL;
	n = kp_pending_left(p);
	pr_crit("%s: FORCING the %s transition: %u task(s) switched without a stack check; the patch module can no longer be removed\n",
		patch->name, kp_dir_name(kp_trans.to_patched), n);
	for (i = 0; i < kp_pending_nr(p); i++) {
		struct task_struct *task = kp_pending_task(p, i, NULL);

		if (task)
			kp_pending_switch(p, task);
	}
	if (!patch->forced) {
		patch->forced = true;
		__module_get(patch->mod);
	}
	add_taint(TAINT_LIVEPATCH, LOCKDEP_STILL_OK);
	kp_complete();
	return 0;
}

/*
 * Put the versions of @obj (a target module that is coming, its code not run
 * yet) in force.  While @patch is in transition they join it: pending tasks
 * keep the module's own functions, and the stack checks cover them.
 */
int kp_transition_push_object(struct kp_patch *patch, struct kp_object *obj)
{
	bool joining = kp_trans.patch == patch && kp_trans.pending;
	struct kp_ranges *r, *old;
	struct kp_func *func;

	lockdep_assert_held(&kp_mutex);
	kp_for_each_func(obj, func) {
		WRITE_ONCE(func->transition, joining);
		kp_push_version(func);
	}
	if (!joining)
		return 0;
	/* The stack checks must cover the module's functions from now on. */
	r = kp_collect_ranges(patch, kp_trans.to_patched);
	if (!r)
		return -ENOMEM;		/* the caller pops them and refuses the module */
	old = rcu_dereference_protected(kp_ranges_now,
					lockdep_is_held(&kp_mutex));
	rcu_assign_pointer(kp_ranges_now, r);
	kp_synchronize();
	kfree(old);
	return 0;
}

/* The patch in transition when it is not @patch, else NULL. */
struct kp_patch *kp_transition_other(struct kp_patch *patch)
{
	return kp_trans.patch == patch ? NULL : kp_trans.patch;
}

/*
 * -EBUSY, with kp_transition()'s log line, when a patch other than @patch is
 * in transition: callbacks then must not run (state.c, callbacks.c).
 */
int kp_transition_busy(struct kp_patch *patch, bool enable)
{
	struct kp_patch *other = kp_transition_other(patch);

	if (!other)
		return 0;
	if (kp_trans.canary) {
		pr_err("%s: cannot %s: patch %s is in canary; promote or abort it first\n",
		       patch->name, kp_dir_name(enable), other->name);
		return -EBUSY;
	}
	pr_err("%s: cannot %s: patch %s is in transition; retry when it is over\n",
	       patch->name, kp_dir_name(enable), other->name);
	return -EBUSY;
}

bool kp_in_transition(struct kp_patch *patch)
{
	return kp_trans.patch == patch;
}

/* sysfs: elapsed time of @patch's transition in ms (0: none). */
u64 kp_transition_elapsed_ms(struct kp_patch *patch)
{
	if (kp_trans.patch != patch)
		return 0;
	return div_u64(ktime_get_ns() - kp_trans.start_ns, NSEC_PER_MSEC);
}

/* The pending tasks of @patch's transition, NULL if none (kp_mutex held). */
struct kp_pending *kp_transition_pending(struct kp_patch *patch)
{
	lockdep_assert_held(&kp_mutex);
	return kp_trans.patch == patch && !kp_trans.canary ? kp_trans.pending : NULL;
}

/* Is @patch in canary, held open (kp_mutex held)? */
bool kp_transition_canary_open(struct kp_patch *patch)
{
	return kp_trans.patch == patch && kp_trans.canary;
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

int kp_transition_init(void)
{
	INIT_DELAYED_WORK(&kp_trans.work, kp_transition_work_fn);
	kp_stack_buf = kcalloc(KP_STACK_ENTRIES, sizeof(*kp_stack_buf),
			       GFP_KERNEL);
	kp_self_stack = __alloc_percpu(KP_STACK_ENTRIES * sizeof(unsigned long),
				       sizeof(unsigned long));
	kp_sync_works = alloc_percpu(struct work_struct);
	if (!kp_stack_buf || !kp_self_stack || !kp_sync_works) {
		kfree(kp_stack_buf);
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
void kp_transition_exit(void)
{
	cancel_delayed_work_sync(&kp_trans.work);
	while (atomic_read(&kp_tworks))
		msleep(20);
	synchronize_rcu_tasks();
	kfree(kp_stack_buf);
	free_percpu(kp_self_stack);
	free_percpu(kp_sync_works);
}
