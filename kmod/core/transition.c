// SPDX-License-Identifier: GPL-2.0
/*
 * transition.c - switch a patch on or off only when no task is inside the
 * code being replaced.
 *
 * The switch is one stop_machine pass: every CPU is held, the stack of every
 * task (idle tasks included) is walked with the reliable (ORC) unwinder, and
 * only when no return address lies in a function being replaced (or in the
 * version being removed) and every stack is reliable, the version stacks are
 * flipped.  Otherwise nothing changes and the pass is retried with backoff.
 *
 * The per-task question "does this task block the switch?" is kp_task_blocks();
 * a per-task lazy model (switching each task on its own, as the kernel's
 * livepatch does) would call it from its own places instead of from the
 * stop_machine pass.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/stop_machine.h>
#include <linux/string.h>
#include "kp_core.h"

unsigned int kp_max_tries = 5;
module_param_named(max_tries, kp_max_tries, uint, 0644);
MODULE_PARM_DESC(max_tries, "stop_machine attempts before a transition fails with -EBUSY");

unsigned int kp_retry_delay_ms = 50;
module_param_named(retry_delay_ms, kp_retry_delay_ms, uint, 0644);
MODULE_PARM_DESC(retry_delay_ms, "delay before the second attempt, doubled for each further one (max 2 s)");

struct kp_range {
	unsigned long start;
	unsigned long end;
};

struct kp_attempt {
	struct kp_transition t;
	unsigned int nr_ranges;
	struct kp_range *ranges;
};

/* Only used inside stop_machine, serialised by kp_mutex. */
static unsigned long *kp_stack_buf;

static void kp_add_range(struct kp_attempt *a, unsigned long start,
			 unsigned long size)
{
	if (!start || !size)
		return;
	a->ranges[a->nr_ranges].start = start;
	a->ranges[a->nr_ranges].end = start + size;
	a->nr_ranges++;
}

/*
 * The code that must not be on any stack: when enabling, the old functions and
 * the versions in force now; when disabling, the versions being removed (and
 * the old functions, which only appear while a call is inside the ftrace
 * trampoline).
 */
static int kp_collect_ranges(struct kp_attempt *a, struct kp_patch *patch,
			     bool enable)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < patch->nr_objs; i++)
		n += patch->objs[i].nr_funcs;
	a->ranges = kcalloc(2 * n + 1, sizeof(*a->ranges), GFP_KERNEL);
	if (!a->ranges)
		return -ENOMEM;

	for (i = 0; i < patch->nr_objs; i++) {
		struct kp_object *obj = &patch->objs[i];

		for (j = 0; j < obj->nr_funcs; j++) {
			struct kp_func *func = &obj->funcs[j];
			struct kp_func *top = kp_top_version(func);

			if (!func->fs)
				continue;
			kp_add_range(a, func->old_addr, func->old_size);
			if (enable && top)
				kp_add_range(a, top->new_addr, top->new_size);
			else if (!enable)
				kp_add_range(a, func->new_addr, func->new_size);
		}
	}
	return 0;
}

static unsigned long kp_hit(struct kp_attempt *a, unsigned long addr)
{
	unsigned int i;

	for (i = 0; i < a->nr_ranges; i++)
		if (addr >= a->ranges[i].start && addr < a->ranges[i].end)
			return addr;
	return 0;
}

static void kp_record_blocker(struct kp_transition *t, struct task_struct *task,
			      unsigned long addr, int err,
			      const unsigned long *entries, int nr)
{
	struct kp_blocker *b;

	t->nr_blocked_total++;
	if (t->nr_blocked >= KP_MAX_BLOCKERS)
		return;
	b = &t->blockers[t->nr_blocked++];
	b->pid = task->pid;
	strscpy(b->comm, task->comm, sizeof(b->comm));
	b->addr = addr;
	b->err = err;
	b->nr_entries = nr > 0 ? min_t(int, nr, KP_BLOCKER_DEPTH) : 0;
	if (b->nr_entries)
		memcpy(b->entries, entries, b->nr_entries * sizeof(*entries));
}

/*
 * Does @task block the switch?  Records why in @a.  @task must not be running
 * (inside stop_machine: any task but the stoppers).
 */
static bool kp_task_blocks(struct kp_attempt *a, struct task_struct *task)
{
	unsigned long addr = 0;
	int nr, i;

	a->t.nr_tasks++;
	nr = kp_stack_reliable(task, kp_stack_buf, KP_STACK_ENTRIES);
	if (nr < 0) {
		kp_record_blocker(&a->t, task, 0, nr, NULL, 0);
		return true;
	}
	for (i = 0; i < nr && !addr; i++)
		addr = kp_hit(a, kp_stack_buf[i]);
	if (!addr)
		return false;
	kp_record_blocker(&a->t, task, addr, 0, kp_stack_buf, nr);
	return true;
}

static void kp_flip(struct kp_patch *patch, bool enable)
{
	unsigned int i, j;

	for (i = 0; i < patch->nr_objs; i++) {
		struct kp_object *obj = &patch->objs[i];

		for (j = 0; j < obj->nr_funcs; j++) {
			struct kp_func *func = &obj->funcs[j];

			if (enable && func->fs && !func->applied)
				kp_push_version(func);
			else if (!enable && func->applied)
				kp_pop_version(func);
		}
	}
}

static int kp_stop_machine_fn(void *data)
{
	struct kp_attempt *a = data;
	struct task_struct *g, *task;
	u64 start = ktime_get_ns();
	int cpu;

	rcu_read_lock();
	for_each_process_thread(g, task) {
		/* The stoppers of the other CPUs are running: not our code. */
		if (task != current && READ_ONCE(task->on_cpu))
			continue;
		kp_task_blocks(a, task);
	}
	rcu_read_unlock();
	for_each_online_cpu(cpu)
		kp_task_blocks(a, kp_idle_task(cpu));

	if (!a->t.nr_blocked_total) {
		kp_flip(a->t.patch, a->t.enable);
		a->t.done = true;
	}
	a->t.pause_ns = ktime_get_ns() - start;
	return 0;
}

/* Describe the tasks of a failed attempt: log them and keep them for sysfs. */
static void kp_report_blockers(struct kp_patch *patch, struct kp_transition *t)
{
	size_t size = PAGE_SIZE, len = 0;
	unsigned int i, k;
	char *buf;

	buf = kzalloc(size, GFP_KERNEL);
	for (i = 0; i < t->nr_blocked; i++) {
		struct kp_blocker *b = &t->blockers[i];

		if (b->addr)
			pr_err("%s: task %d (%s) is inside %pS\n", patch->name,
			       b->pid, b->comm, (void *)b->addr);
		else
			pr_err("%s: task %d (%s) has an unreliable stack (%d)\n",
			       patch->name, b->pid, b->comm, b->err);
		for (k = 0; k < b->nr_entries; k++)
			pr_err("%s:     %pS\n", patch->name, (void *)b->entries[k]);
		if (!buf)
			continue;
		if (b->addr)
			len += scnprintf(buf + len, size - len, "%d %s %pS\n",
					 b->pid, b->comm, (void *)b->addr);
		else
			len += scnprintf(buf + len, size - len,
					 "%d %s unreliable-stack(%d)\n",
					 b->pid, b->comm, b->err);
		for (k = 0; k < b->nr_entries; k++)
			len += scnprintf(buf + len, size - len, "    %pS\n",
					 (void *)b->entries[k]);
	}
	if (t->nr_blocked_total > t->nr_blocked) {
		pr_err("%s: ... and %u more blocking tasks\n", patch->name,
		       t->nr_blocked_total - t->nr_blocked);
		if (buf)
			scnprintf(buf + len, size - len, "... %u more\n",
				  t->nr_blocked_total - t->nr_blocked);
	}
	kfree(patch->blocked);
	patch->blocked = buf;
}

/*
 * Switch @patch on or off.  Its functions of present objects must be attached
 * (kp_attach_func).  Returns 0 when switched, -EBUSY when every attempt found
 * a blocking task (nothing switched).
 */
int kp_transition(struct kp_patch *patch, bool enable)
{
	struct kp_attempt *a;
	unsigned int try, tries = max(kp_max_tries, 1U);
	u64 start = ktime_get_ns();
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	ret = kp_collect_ranges(a, patch, enable);
	if (ret)
		goto out;

	patch->transition = enable ? KP_ENABLING : KP_DISABLING;
	for (try = 0; try < tries; try++) {
		if (try)
			msleep(min(kp_retry_delay_ms << min(try - 1, 10U), 2000U));
		memset(&a->t, 0, sizeof(a->t));
		a->t.patch = patch;
		a->t.enable = enable;
		ret = stop_machine(kp_stop_machine_fn, a, NULL);
		if (ret)
			break;
		if (a->t.done)
			break;
		pr_warn("%s: %s attempt %u/%u blocked by %u task(s)\n",
			patch->name, enable ? "enable" : "disable", try + 1,
			tries, a->t.nr_blocked_total);
	}
	patch->transition = KP_IDLE;

	if (ret) {
		pr_err("%s: stop_machine failed: %d\n", patch->name, ret);
	} else if (!a->t.done) {
		pr_err("%s: cannot %s: tasks are inside the code being replaced after %u attempts\n",
		       patch->name, enable ? "enable" : "disable", tries);
		kp_report_blockers(patch, &a->t);
		ret = -EBUSY;
	} else {
		kfree(patch->blocked);
		patch->blocked = NULL;
		pr_info("%s: %s in %llu us after %u attempt(s); stop_machine pause %llu us, %u tasks checked\n",
			patch->name, enable ? "enabled" : "disabled",
			div_u64(ktime_get_ns() - start, NSEC_PER_USEC), try + 1,
			div_u64(a->t.pause_ns, NSEC_PER_USEC), a->t.nr_tasks);
	}
out:
	kfree(a->ranges);
	kfree(a);
	return ret;
}

int kp_transition_init(void)
{
	kp_stack_buf = kcalloc(KP_STACK_ENTRIES, sizeof(*kp_stack_buf),
			       GFP_KERNEL);
	return kp_stack_buf ? 0 : -ENOMEM;
}

void kp_transition_exit(void)
{
	kfree(kp_stack_buf);
}
