// SPDX-License-Identifier: GPL-2.0
/*
 * stragglers.c - the tasks that keep a transition from completing (issue
 * 25, item 6: one task must not veto a fix for everyone).
 *
 * A task asleep inside the code a transition leaves holds it: a FUSE
 * request, a vfork parent, any reader of a file whose handler sleeps
 * killably in a replaced function.  Such a task may belong to any user.
 * Every signal_after seconds the pending tasks get livepatch's fake signal
 * (klp_send_signals()): a kthread is woken from an interruptible sleep (its
 * wait loop re-checks and sleeps again, maybe elsewhere), a user task gets
 * TIF_NOTIFY_SIGNAL, as set_notify_signal() does, and leaves an
 * interruptible sleep: its system call returns to user space and restarts,
 * running the task work that switches it on the way.  A killable or
 * uninterruptible sleep is not broken: that task switches when it leaves.
 *
 * When the transition outlives the patch's timeout, the patch's on_timeout
 * policy decides (/sys/kernel/kp/<patch>/on_timeout, kpctl load
 * --on-timeout, its kp_policy records: KP_ON_TIMEOUT()):
 *   pending (the default)  the transition stays pending, as livepatch's
 *                          always does: the new code is live for every task
 *                          already switched, the stragglers keep getting
 *                          fake signals, retries go on every second, and
 *                          the transition completes once they leave;
 *   reverse                the transition reverses: every task goes back to
 *                          the old code, and the loader gives up.
 * The policy applies to enabling transitions.  A disable that times out
 * still reverses (the fix stays in force, the operator retries), except a
 * rollback (core.c), which never reverses.  Root ends a pending transition
 * by writing 0 to enabled (reverse it), 1 to force (switch the stragglers
 * unchecked), or "reverse" to on_timeout (reverse it at the next retry).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include "kallsyms.h"
#include "stack.h"
#include "stragglers.h"

static unsigned int kp_signal_s = 15;
module_param_named(signal_after, kp_signal_s, uint, 0644);
MODULE_PARM_DESC(signal_after, "seconds into a transition before pending tasks are kicked out of their sleeps (fake signal), and again every as many (0: never)");

static const char * const kp_on_timeout_names[] = {
	[KP_ON_TIMEOUT_PENDING] = "pending",
	[KP_ON_TIMEOUT_REVERSE] = "reverse",
};

const char *kp_stragglers_name(unsigned int on_timeout)
{
	return on_timeout < ARRAY_SIZE(kp_on_timeout_names) &&
	       kp_on_timeout_names[on_timeout] ?
	       kp_on_timeout_names[on_timeout] : "?";
}

/* "pending" or "reverse" (a trailing newline allowed) to KP_ON_TIMEOUT_*. */
int kp_stragglers_parse(const char *buf, unsigned int *on_timeout)
{
	unsigned int i;

	/* Not sysfs_match_string(): it stops at the unused slot 0. */
	for (i = 0; i < ARRAY_SIZE(kp_on_timeout_names); i++) {
		if (kp_on_timeout_names[i] &&
		    sysfs_streq(buf, kp_on_timeout_names[i])) {
			*on_timeout = i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The on_timeout of @patch's kp_policy records (at register, before the
 * patch is enabled): records that set one must agree; none sets the
 * default, pending.  An unknown value refuses the patch.
 */
int kp_stragglers_policy(struct kp_patch *patch)
{
	const struct kp_policy_rec *p = (void *)(unsigned long)patch->rec->policy;
	const struct kp_policy_rec *end =
		(void *)(unsigned long)patch->rec->policy_end;
	u64 want = 0;

	for (; p && p < end; p++) {
		if (!p->on_timeout)
			continue;
		if (p->on_timeout != KP_ON_TIMEOUT_PENDING &&
		    p->on_timeout != KP_ON_TIMEOUT_REVERSE) {
			pr_err("%s: kp_policy record with unknown on_timeout %llu\n",
			       patch->name, p->on_timeout);
			return -EINVAL;
		}
		if (want && want != p->on_timeout) {
			pr_err("%s: kp_policy records ask for both on_timeout pending and reverse\n",
			       patch->name);
			return -EINVAL;
		}
		want = p->on_timeout;
	}
	patch->on_timeout = want ?: KP_ON_TIMEOUT_PENDING;
	return 0;
}

/* Does a transition of @patch toward @to_patched stay past its timeout? */
bool kp_stragglers_stay(struct kp_patch *patch, bool to_patched)
{
	return patch->rolling_back ||
	       (to_patched &&
		READ_ONCE(patch->on_timeout) == KP_ON_TIMEOUT_PENDING);
}

/*
 * The transition of @patch toward @to_patched outlived its timeout with
 * @left tasks not switched, @bl the first of them: report them, and say
 * whether it stays pending (true) or must reverse.  Called again after
 * every further timeout while it stays: the report is repeated.
 */
bool kp_stragglers_timeout(struct kp_patch *patch, bool to_patched,
			   unsigned int left, const struct kp_blockers *bl)
{
	pr_err("%s: cannot %s: %u task(s) still inside the code being replaced after %u s\n",
	       patch->name, to_patched ? "enable" : "disable", left,
	       READ_ONCE(patch->timeout_s));
	kp_report_blockers(patch, bl);
	if (patch->rolling_back) {
		pr_warn("%s: a rollback is never reversed: kicking the tasks above until they leave (root may write 1 to its force)\n",
			patch->name);
		return true;
	}
	if (!kp_stragglers_stay(patch, to_patched))
		return false;
	pr_warn("%s: the enable stays pending: the new code is live for every task but the %u above, kicked every %u s until they leave (on_timeout pending; root may write 0 to enabled to reverse it, 1 to force)\n",
		patch->name, left, READ_ONCE(kp_signal_s));
	return true;
}

/* What livepatch's klp_send_signals() does to one task. */
static void kp_kick_task(struct task_struct *task)
{
	if (task->flags & PF_KTHREAD)
		kp_wake_up_state(task, TASK_INTERRUPTIBLE);
	else if (!test_and_set_tsk_thread_flag(task, TIF_NOTIFY_SIGNAL) &&
		 !kp_wake_up_state(task, TASK_INTERRUPTIBLE))
		kick_process(task);
}

/*
 * Every signal_after seconds (*@signal_ns: when @p's tasks were last
 * kicked, or the transition started), kick the pending tasks of @p out of
 * their interruptible sleeps (kp_mutex held).
 */
void kp_stragglers_kick(struct kp_patch *patch, struct kp_pending *p,
			u64 *signal_ns)
{
	u64 now = ktime_get_ns();
	u64 every = (u64)READ_ONCE(kp_signal_s) * NSEC_PER_SEC;
	unsigned int i, n = 0;

	if (!p || !every || now - *signal_ns < every)
		return;
	*signal_ns = now;
	for (i = 0; i < kp_pending_nr(p); i++) {
		struct task_struct *task = kp_pending_task(p, i, NULL);

		if (task) {
			kp_kick_task(task);
			n++;
		}
		cond_resched();
	}
	pr_notice("%s: kicked %u pending task(s) out of their sleeps\n",
		  patch->name, n);
}
