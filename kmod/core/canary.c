// SPDX-License-Identifier: GPL-2.0
/*
 * canary.c - a patch in force for a few tasks first (issue 16): the canary.
 *
 * kpctl load --canary arms a canary before it loads the patch module: it
 * writes "NAME PID..." to /sys/kernel/kp/canary.  When patch NAME registers
 * from a module loaded by that same process, kp_enable_patch() starts a
 * canary instead of a transition (kp_transition_canary(), transition.c): the
 * processes named (every thread of each) switch to the patch, every other
 * task stays on the code it runs.  The canary is a disabling-shaped
 * transition held open: its pending table holds the canary tasks, so the
 * unchanged ftrace handler sends them to the new version and every other
 * task to the old one; no task pass, timeout or self-switch runs while it
 * is open.  A task a canary task creates joins it before it first runs: a
 * probe on the sched_process_fork tracepoint (called by kernel_clone()
 * before wake_up_new_task()) adds it to the table.
 *
 * /sys/kernel/kp/<patch>/canary lists the canary tasks still alive ("pid
 * comm" each); writing "promote" switches every other task under the normal
 * rules, "abort" (or a disable: writing 0 to enabled, probation's rollback)
 * returns the canary tasks to the old code under the normal rules.  Writing
 * 1 to enabled changes nothing: only this file promotes.  While a canary is open no
 * other patch may change (kp_transition_busy() says so).
 *
 * The table holds a reference on each task it names (pending.c), so a canary
 * task that exits leaves no stale pointer: it stays in the table, dead, until
 * the canary ends.  The table's room is fixed when the canary starts (every
 * task then, plus canary_room children); a child that finds it full runs the
 * old code, which is safe (a new task holds no frame of either version), and
 * is logged.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/moduleparam.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include "canary.h"
#include "probation.h"
#include "transition.h"

static unsigned int kp_canary_room = 1024;

/* Bounded: the table is sized tasks + CPUs + room (no wrap, no huge kvcalloc). */
static int kp_canary_room_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, 65536);
}

static const struct kernel_param_ops kp_canary_room_ops = {
	.set = kp_canary_room_set,
	.get = param_get_uint,
};

module_param_cb(canary_room, &kp_canary_room_ops, &kp_canary_room, 0644);
MODULE_PARM_DESC(canary_room, "tasks the canary tasks may create while a canary is open and still have them follow (0 to 65536, default 1024)");

/* Both under kp_mutex; kp_canary_now also read inside stop_machine. */
static struct kp_canary_set *kp_canary_armed;
static struct kp_canary_set *kp_canary_now;

/* The open canary's table, for the fork probe; adders hold kp_canary_lock. */
static struct kp_pending __rcu *kp_canary_table;
static DEFINE_SPINLOCK(kp_canary_lock);
static struct tracepoint *kp_fork_tp;
static bool kp_fork_probed;

static void kp_canary_set_free(struct kp_canary_set *set)
{
	unsigned int i;

	if (!set)
		return;
	for (i = 0; i < set->nr; i++)
		put_pid(set->pids[i]);
	put_pid(set->owner);
	kfree(set);
}

static bool kp_canary_has_tgid(const struct kp_canary_set *set,
			       struct task_struct *task)
{
	struct pid *tgid = task_tgid(task);
	unsigned int i;

	for (i = 0; i < set->nr; i++)
		if (set->pids[i] == tgid)
			return true;
	return false;
}

/*
 * Inside stop_machine: does the canary starting take @task?  Every thread of
 * the processes named, and a child process of theirs created but not run yet
 * (its fork probe may have fired before the table existed).
 */
static bool kp_canary_selects(struct task_struct *task)
{
	struct kp_canary_set *set = kp_canary_now;

	if (!set || (task->flags & PF_KTHREAD))
		return false;
	if (kp_canary_has_tgid(set, task))
		return true;
	return thread_group_leader(task) && !task->se.sum_exec_runtime &&
	       kp_canary_has_tgid(set, rcu_dereference_raw(task->real_parent));
}

/* sched_process_fork: a canary task's child joins it before it first runs. */
static void kp_canary_fork(void *data, struct task_struct *parent,
			   struct task_struct *child)
{
	struct kp_pending *p = rcu_dereference_sched(kp_canary_table);
	unsigned long flags;
	bool added;

	if (!p || !kp_pending_has(p, parent))
		return;
	spin_lock_irqsave(&kp_canary_lock, flags);
	added = kp_pending_add(p, child, 0);
	spin_unlock_irqrestore(&kp_canary_lock, flags);
	if (!added)
		pr_warn_ratelimited("canary full (canary_room): task %d, child of canary task %d, runs the old code\n",
				    task_pid_nr(child), task_pid_nr(parent));
}

/* Inside the pass that opens the canary: the table the fork probe fills. */
static void kp_canary_publish(struct kp_pending *p)
{
	rcu_assign_pointer(kp_canary_table, p);
}

static void kp_find_fork_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_fork"))
		kp_fork_tp = tp;
}

/*
 * The canary ends (promote, abort) or did not start (kp_mutex held): no
 * fork probe may still add to its table when this returns.
 */
static void kp_canary_close(void)
{
	RCU_INIT_POINTER(kp_canary_table, NULL);
	if (kp_fork_probed) {
		tracepoint_probe_unregister(kp_fork_tp, kp_canary_fork, NULL);
		tracepoint_synchronize_unregister();
		kp_fork_probed = false;
	}
	kp_canary_set_free(kp_canary_now);
	kp_canary_now = NULL;
}

static const struct kp_canary_ops kp_canary_ops = {
	.selects = kp_canary_selects,
	.publish = kp_canary_publish,
	.close = kp_canary_close,
};

/*
 * Switch @patch on (kp_mutex held): as a canary if this process armed one
 * for it, else with a normal transition.
 */
int kp_canary_enable(struct kp_patch *patch)
{
	struct kp_canary_set *set = kp_canary_armed;
	int ret;

	lockdep_assert_held(&kp_mutex);
	if (!set || strcmp(set->name, patch->name) ||
	    set->owner != task_tgid(current))
		return kp_transition(patch, true);
	kp_canary_armed = NULL;
	kp_canary_now = set;
	ret = tracepoint_probe_register(kp_fork_tp, kp_canary_fork, NULL);
	if (!ret) {
		kp_fork_probed = true;
		ret = kp_transition_canary(patch, &kp_canary_ops,
					   kp_canary_room);
	}
	if (ret) {
		pr_err("%s: cannot start the canary: %d\n", patch->name, ret);
		kp_canary_close();
		return ret;
	}
	kp_probation_canary(patch);	/* a fault pinned on it aborts it */
	return 0;
}

/* "NAME PID..." from @buf into a new set; an error names what is wrong. */
static int kp_canary_parse(char *buf, struct kp_canary_set **out)
{
	struct kp_canary_set *set;
	struct task_struct *task;
	char *tok, *name;
	int nr, ret = 0;

	name = strsep(&buf, " \t\n");
	if (!name || !*name || strlen(name) >= MODULE_NAME_LEN)
		return -EINVAL;
	set = kzalloc(sizeof(*set), GFP_KERNEL);
	if (!set)
		return -ENOMEM;
	strscpy(set->name, name, sizeof(set->name));
	while (!ret && (tok = strsep(&buf, " \t\n"))) {
		if (!*tok)
			continue;
		if (set->nr >= KP_CANARY_MAX_PIDS || kstrtoint(tok, 10, &nr) || nr <= 0) {
			pr_err("canary: bad process id '%s' (at most %d, each > 0)\n",
			       tok, KP_CANARY_MAX_PIDS);
			ret = -EINVAL;
			break;
		}
		set->pids[set->nr] = find_get_pid(nr);
		rcu_read_lock();
		task = set->pids[set->nr] ?
			pid_task(set->pids[set->nr], PIDTYPE_TGID) : NULL;
		if (!task)
			ret = -ESRCH;
		else if (task->flags & PF_KTHREAD)
			ret = -EINVAL;
		rcu_read_unlock();
		if (set->pids[set->nr])
			set->nr++;
		if (ret)
			pr_err("canary: process %d %s\n", nr,
			       ret == -ESRCH ? "does not exist" : "is a kernel thread");
	}
	if (!ret && !set->nr)
		ret = -ENOENT;	/* "NAME" alone: disarm */
	if (ret) {
		kp_canary_set_free(set);
		return ret;
	}
	set->owner = get_pid(task_tgid(current));
	*out = set;
	return 0;
}

/*
 * "NAME PID..." (@count bytes of @buf) arms a canary of patch NAME for the
 * calling process's next load of it, replacing the one armed; "NAME" alone
 * disarms NAME's.  Returns 0 or an error (logged).
 */
int kp_canary_arm(const char *buf, size_t count)
{
	struct kp_canary_set *set = NULL;
	char *copy, *name;
	int ret;

	copy = kstrndup(buf, count, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	ret = kp_canary_parse(copy, &set);
	name = strim(copy);
	mutex_lock(&kp_mutex);
	if (!ret || ret == -ENOENT) {
		if (kp_canary_armed &&
		    (!ret || !strcmp(kp_canary_armed->name, name))) {
			kp_canary_set_free(kp_canary_armed);
			kp_canary_armed = NULL;
		}
		if (!ret)
			kp_canary_armed = set;
		ret = 0;
	}
	mutex_unlock(&kp_mutex);
	kfree(copy);
	return ret;
}

/* The armed canary, NULL if none (kp_mutex held). */
const struct kp_canary_set *kp_canary_armed_set(void)
{
	lockdep_assert_held(&kp_mutex);
	return kp_canary_armed;
}

/*
 * Call @fn on each task of @patch's open canary, the live ones and the
 * exited ones (kp_mutex held; no fork probe adds one meanwhile), until it
 * returns false.
 */
void kp_canary_walk_tasks(struct kp_patch *patch, kp_canary_task_fn fn,
			  void *data)
{
	struct kp_pending *p;
	unsigned long flags;
	unsigned int i;

	lockdep_assert_held(&kp_mutex);
	p = kp_transition_canary_open(patch) ?
		rcu_dereference_protected(kp_canary_table, true) : NULL;
	spin_lock_irqsave(&kp_canary_lock, flags);
	for (i = 0; p && i < kp_pending_nr(p); i++) {
		struct task_struct *task = kp_pending_task(p, i, NULL);

		if (task && !fn(task, data))
			break;
	}
	spin_unlock_irqrestore(&kp_canary_lock, flags);
}

int kp_canary_init(void)
{
	for_each_kernel_tracepoint(kp_find_fork_tp, NULL);
	if (!kp_fork_tp) {
		pr_err("no sched_process_fork tracepoint\n");
		return -ENOENT;
	}
	return 0;
}

/* No patch is left: no canary is open, one may still be armed. */
void kp_canary_exit(void)
{
	kp_canary_set_free(kp_canary_armed);
	kp_canary_armed = NULL;
}
