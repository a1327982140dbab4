// SPDX-License-Identifier: GPL-2.0
/*
 * transition.c - the transition state machine and its API: switch a patch
 * on or off only where no task is inside the code being replaced (the hybrid
 * consistency model).  A transition starts with a full pass (passes.c): if
 * no task holds the code the switch leaves (stack.c), it is done; else those
 * tasks are pending, and the ftrace handler sends them to the version they
 * ran before and every other task to the target.  Pending tasks switch
 * themselves on their way back to user space (a task work checks their own
 * stack), or in a task pass every retry_interval_ms (one task at a time, no
 * machine stop); when none is left the transition completes.  The tasks that stay are stragglers.c's: fake
 * signals, and what the patch's timeout does (an enable stays pending by
 * default, as livepatch's does; else it reverses).  When "enabled" gets the
 * other value, it reverses: the target flips and a new full pass decides who
 * is pending the other way.  "force" switches every pending task without a
 * check.  A canary (canary.c, its kp_canary_ops) is a disabling transition
 * held open, promoted or aborted here.  One transition at a time, under
 * kp_mutex.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>
#include "kallsyms.h"
#include "params.h"
#include "passes.h"
#include "redirect.h"
#include "selfswitch.h"
#include "stack.h"
#include "stragglers.h"
#include "transition.h"

unsigned int kp_timeout_s = 60;
module_param_cb(transition_timeout, &kp_param_nonzero, &kp_timeout_s, 0644);
MODULE_PARM_DESC(transition_timeout, "seconds a transition may take before it reverses or stays pending (the patch's on_timeout; default; a patch may set its own)");

static unsigned int kp_retry_ms = 100;
module_param_cb(retry_interval_ms, &kp_param_nonzero, &kp_retry_ms, 0644);
MODULE_PARM_DESC(retry_interval_ms, "interval of the retry passes over the pending tasks");

/* The transition in progress (patch NULL: none).  Changed under kp_mutex. */
static struct {
	struct kp_patch *patch;
	bool to_patched;		/* target state: patched (enabling) */
	bool reversed;
	bool canary;			/* a canary held open (canary.c) */
	bool aborted;			/* a canary being aborted */
	bool stalled;			/* past its timeout, pending (stragglers.c) */
	const struct kp_canary_ops *canary_ops;
	unsigned int gen;		/* bumped when the target or the tasks change */
	unsigned int seq;		/* bumped when a transition starts or ends */
	u64 start_ns;
	u64 timeout_ns;			/* the timeout counts from here */
	u64 signal_ns;			/* when pending tasks were last kicked */
	u64 pause_ns_max;
	unsigned int passes;
	unsigned int first_pending;
	unsigned int nr_tasks;
	struct kp_pending *pending;
	struct delayed_work work;
} kp_trans;

/* The generation a self-switch request was queued for is still current. */
bool kp_transition_gen_is(unsigned int gen)
{
	return READ_ONCE(kp_trans.gen) == gen;
}

/* The last pending task switched itself: complete without waiting for a retry. */
void kp_transition_kick(void)
{
	mod_delayed_work(system_wq, &kp_trans.work, 0);
}

/* A pass of the transition in progress, on its table and ranges. */
static void kp_pass_setup(struct kp_pass *ps, struct kp_ranges *ranges)
{
	ps->patch = kp_trans.patch;
	ps->to_patched = kp_trans.to_patched;
	ps->cur = kp_trans.pending;
	ps->gen = &kp_trans.gen;
	memset(&ps->c, 0, sizeof(ps->c));
	ps->c.ranges = ranges;
}

static void kp_pass_stats(struct kp_pass *ps)
{
	kp_trans.passes++;
	kp_trans.pause_ns_max = max(kp_trans.pause_ns_max, ps->pause_ns);
}

static const char *kp_dir_name(bool to_patched)
{
	return to_patched ? "enable" : "disable";
}

/*
 * Run a full pass toward kp_trans.to_patched, with @ranges and @table (the
 * first try's) when the caller got them beforehand (NULL: allocated here;
 * both are the pass's from now on).  On success the pending tasks are
 * installed (or the flip is done); returns -ENOMEM, or -EAGAIN when tasks
 * appeared faster than the table grew.
 */
static int kp_run_full_pass(struct kp_pass *ps, struct kp_ranges *ranges,
			    struct kp_pending *table)
{
	struct kp_pending *old = kp_trans.pending;
	struct kp_ranges *old_ranges = kp_ranges_installed();
	unsigned int i, tries;
	int ret = 0;

	if (!ranges)
		ranges = kp_collect_ranges(kp_trans.patch, kp_trans.to_patched);
	if (!ranges) {
		kp_selfswitch_drop(table);
		return -ENOMEM;
	}
	for (tries = 0; tries < 3; tries++) {
		ps->build = table ?: kp_pass_table(64, kp_trans.to_patched);
		table = NULL;
		if (!ps->build) {
			ret = -ENOMEM;
			break;
		}
		kp_pass_setup(ps, ranges);
		ret = kp_pass_full(ps);
		kp_pass_stats(ps);
		if (!ret && ps->stopper_addr) {
			pr_err("%s: it replaces code that stop_machine itself runs (%pS): refused\n",
			       kp_trans.patch->name, (void *)ps->stopper_addr);
			ret = -EINVAL;
		}
		if (ret == -EINVAL) {
			kp_selfswitch_drop(ps->build);
			ps->build = NULL;
			break;
		}
		if (!ret && !ps->overflow)
			break;
		kp_selfswitch_drop(ps->build);
		ps->build = NULL;
		ret = ret ?: -EAGAIN;
	}
	if (ret) {
		kfree(ranges);
		return ret;
	}
	if (ps->first && ps->done) {	/* flipped at once: table uninstalled */
		kp_synchronize();
		kp_selfswitch_drop(ps->build);
		kfree(ranges);
		return 0;
	}
	kp_trans.pending = ps->build;
	if (old || old_ranges) {
		kp_synchronize();
		kp_selfswitch_drop(old);
		kfree(old_ranges);
	}
	for (i = 0; i < kp_pending_nr(ps->build); i++) {
		struct task_struct *task = kp_pending_task(ps->build, i, NULL);

		if (task)
			kp_selfswitch_queue(task, kp_trans.gen);
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
	ranges = kp_ranges_install(NULL);
	if (WARN_ON_ONCE(kp_trans.canary)) {	/* never completes open */
		kp_trans.canary_ops->close();
		kp_trans.canary = false;
	}
	kp_trans.stalled = false;
	kp_trans.pending = NULL;
	kp_trans.patch = NULL;
	kp_trans.gen++;
	kp_trans.seq++;
	kp_synchronize();
	/* After: a task work may queue it until no CPU runs one (issue 25). */
	cancel_delayed_work(&kp_trans.work);
	kp_selfswitch_drop(old);
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

/* The next retry pass: every second once stalled (livepatch's interval). */
static void kp_retry_later(void)
{
	mod_delayed_work(system_wq, &kp_trans.work,
			 msecs_to_jiffies(kp_trans.stalled ? KP_STALLED_RETRY_MS :
					  kp_retry_ms));
}

/* After a full pass that did not start a transition: end it, or retry. */
static void kp_complete_or_retry(bool done)
{
	if (done)
		kp_complete();
	else
		kp_retry_later();
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
	ret = kp_run_full_pass(ps, NULL, NULL);
	if (ret) {
		kp_trans.to_patched = !kp_trans.to_patched;
		pr_err("%s: cannot reverse the transition: %d\n", patch->name, ret);
		goto out;
	}
	kp_trans.reversed = !kp_trans.reversed;
	kp_trans.aborted = false;	/* an aborted canary is enabling again */
	kp_trans.stalled = false;
	kp_trans.start_ns = ktime_get_ns();	/* a reversed reversal gets a full timeout */
	kp_trans.timeout_ns = kp_trans.start_ns;
	kp_trans.signal_ns = kp_trans.start_ns;
	patch->enabled = kp_trans.to_patched;
	patch->transition = kp_trans.to_patched ? KP_ENABLING : KP_DISABLING;
	kp_complete_or_retry(ps->done);
out:
	kfree(ps);
	return ret;
}

/*
 * Is it time for the timeout's decision: the timeout (counted again after
 * each while it stays pending) expired, or root wants a pending transition
 * to reverse now (on_timeout written)?  A reversed transition has none.
 */
static bool kp_timeout_due(struct kp_patch *patch)
{
	u64 timeout = (u64)READ_ONCE(patch->timeout_s) * NSEC_PER_SEC;

	if (kp_trans.reversed)
		return false;
	if (kp_trans.stalled &&
	    !kp_stragglers_stay(patch, kp_trans.to_patched))
		return true;
	return ktime_get_ns() - kp_trans.timeout_ns >= timeout;
}

/*
 * The retry pass, kicks and timeout of the transition in progress.  An
 * instance queued for a transition that ended while it waited for kp_mutex
 * must not act on the next one (a canary, which has none of these): the
 * sequence number read before the lock says which it was queued for.
 * livepatch's klp_transition_work_fn() tries whatever transition is in
 * progress, harmless there as its transitions are all alike.
 */
static void kp_transition_work_fn(struct work_struct *work)
{
	unsigned int seq = READ_ONCE(kp_trans.seq);
	struct kp_patch *patch;
	struct kp_pass *ps;

	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	kp_fault_inject_work_delay();
	mutex_lock(&kp_mutex);
	patch = kp_trans.patch;
	if (!patch || seq != kp_trans.seq || kp_trans.canary)
		goto out;
	if (!ps)
		goto again;
	kp_pass_setup(ps, kp_ranges_installed());
	if (kp_pass_tasks(ps))
		goto again;
	kp_pass_stats(ps);
	if (ps->done) {
		kp_complete();
		goto out;
	}
	if (kp_timeout_due(patch)) {
		if (kp_stragglers_timeout(patch, kp_trans.to_patched,
					  kp_pending_left(kp_trans.pending),
					  &ps->c.blocked)) {
			kp_trans.stalled = true;
			kp_trans.timeout_ns = ktime_get_ns();	/* report again */
		} else if (!kp_reverse("timeout")) {
			goto out;
		}
	}
	kp_stragglers_kick(patch, kp_trans.pending, &kp_trans.signal_ns);
again:
	kp_retry_later();
out:
	mutex_unlock(&kp_mutex);
	kfree(ps);
}

/* A new transition (or a canary's promotion) starts its clock and counters. */
static void kp_trans_reset(bool canary)
{
	kp_trans.seq++;
	kp_trans.reversed = false;
	kp_trans.canary = canary;
	kp_trans.aborted = false;
	kp_trans.stalled = false;
	kp_trans.start_ns = ktime_get_ns();
	kp_trans.timeout_ns = kp_trans.start_ns;
	kp_trans.signal_ns = kp_trans.start_ns;
	kp_trans.passes = 0;
	kp_trans.pause_ns_max = 0;
}

/*
 * The canary passes: a canary task inside the code being replaced is waited
 * for, up to ten passes 100 ms apart.  On success (0) ps->build is the table
 * in force.
 */
static int kp_canary_passes(struct kp_pass *ps, struct kp_ranges *ranges,
			    unsigned int room)
{
	unsigned int tries;
	int ret = -EBUSY;

	for (tries = 0; tries < 10; tries++) {
		if (tries)
			msleep(100);
		ps->build = kp_pass_table(room, false);
		if (!ps->build)
			return -ENOMEM;
		kp_pass_setup(ps, ranges);
		ret = kp_pass_canary(ps);
		kp_pass_stats(ps);
		if (!ret && ps->done)
			return 0;
		kp_selfswitch_drop(ps->build);
		ps->build = NULL;
		if (!ret && !ps->blocked && !ps->overflow)
			return -ESRCH;	/* every canary process is gone */
		ret = ret ?: -EBUSY;
	}
	return ret;
}

/*
 * Open a canary of @patch (kp_mutex held; functions attached): @ops selects
 * the tasks, learns their table and is closed when the canary ends; the
 * table has room for @room tasks more than there are now.  On an error the
 * caller closes it.
 */
int kp_transition_canary(struct kp_patch *patch,
			 const struct kp_canary_ops *ops, unsigned int room)
{
	struct kp_ranges *ranges;
	struct kp_pass *ps;
	int ret;

	lockdep_assert_held(&kp_mutex);
	ret = kp_transition_busy(patch, true);
	if (ret)
		return ret;
	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	ranges = kp_collect_ranges(patch, true);
	if (!ps || !ranges) {
		kfree(ranges);
		kfree(ps);
		return -ENOMEM;
	}
	ps->selects = ops->selects;
	ps->publish = ops->publish;
	kp_trans.patch = patch;
	kp_trans.to_patched = false;
	kp_trans_reset(true);
	kp_trans.canary_ops = ops;
	ret = kp_canary_passes(ps, ranges, room);
	if (ret) {
		if (ps->blocked)
			kp_report_blockers(patch, &ps->c.blocked);
		pr_err("%s: cannot start the canary: %s\n", patch->name,
		       ret == -ESRCH ? "no canary task left" :
		       ret == -EBUSY ? "canary tasks stay inside the code being replaced" :
		       "out of memory");
		kp_trans.patch = NULL;
		kp_trans.canary = false;
	} else {
		kp_trans.pending = ps->build;
		patch->enabled = true;
		patch->transition = KP_CANARY;
		kp_trans.nr_tasks = ps->c.nr_tasks;
		pr_info("%s: canary: %u task(s) run the new code, every other task the old (stop_machine pause %llu us)\n",
			patch->name, kp_pending_left(ps->build),
			div_u64(ps->pause_ns, NSEC_PER_USEC));
	}
	kfree(ranges);
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
	kp_trans.canary_ops->close();
	kp_trans.to_patched = true;
	kp_trans_reset(false);
	ret = kp_run_full_pass(ps, NULL, NULL);
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
	kp_trans.nr_tasks = ps->c.nr_tasks;
	kp_trans.first_pending = kp_pending_left(kp_trans.pending);
	pr_info("%s: canary promoted (%u canary task(s), exited ones included): enabling for every task, %u of %u inside the code being replaced switch later\n",
		patch->name, canaries, kp_trans.first_pending, ps->c.nr_tasks);
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
	kp_trans.canary_ops->close();
	kp_trans.canary = false;
	kp_trans.reversed = true;	/* no timeout */
	kp_trans.aborted = true;
	kp_trans.start_ns = ktime_get_ns();
	kp_trans.timeout_ns = kp_trans.start_ns;
	kp_trans.signal_ns = kp_trans.start_ns;
	old = kp_ranges_install(r);
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
			kp_selfswitch_queue(task, kp_trans.gen);
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
 * What a transition's start allocates: its first full pass, the ranges that
 * pass checks and its first table of pending tasks.  A disable gets them
 * before its pre-unpatch callbacks (kp_disable_patch()), so that running out
 * of memory refuses it before anything ran; livepatch's
 * klp_init_transition() allocates nothing that can fail.
 */
struct kp_trans_start {
	struct kp_pass ps;
	struct kp_ranges *ranges;
	struct kp_pending *table;
};

/* Free a prepared start that is not used. */
void kp_transition_unprepare(struct kp_trans_start *st)
{
	if (!st)
		return;
	kfree(st->ranges);
	kp_selfswitch_drop(st->table);
	kfree(st);
}

/* A transition of @patch to @enable, allocated (kp_mutex held); NULL: -ENOMEM. */
struct kp_trans_start *kp_transition_prepare(struct kp_patch *patch,
					     bool enable)
{
	struct kp_trans_start *st = kzalloc(sizeof(*st), GFP_KERNEL);

	lockdep_assert_held(&kp_mutex);
	if (!st)
		return NULL;
	st->ranges = kp_collect_ranges(patch, enable);
	st->table = kp_pass_table(64, enable);
	if (!st->ranges || !st->table) {
		kp_transition_unprepare(st);
		return NULL;
	}
	return st;
}

/*
 * Start the transition @st was prepared for (kp_mutex held, no transition
 * in progress); @st is freed.  As kp_transition().
 */
int kp_transition_start(struct kp_patch *patch, bool enable,
			struct kp_trans_start *st)
{
	struct kp_pass *ps = &st->ps;
	int ret;

	lockdep_assert_held(&kp_mutex);
	if (WARN_ON_ONCE(kp_trans.patch)) {
		kp_transition_unprepare(st);
		return -EBUSY;
	}
	ps->first = true;
	kp_trans.patch = patch;
	kp_trans.to_patched = enable;
	kp_trans_reset(false);
	ret = kp_run_full_pass(ps, st->ranges, st->table);
	st->ranges = NULL;
	st->table = NULL;
	if (ret) {
		pr_err("%s: cannot %s: %d\n", patch->name, kp_dir_name(enable), ret);
		kp_trans.patch = NULL;
		goto out;
	}
	patch->enabled = enable;
	kp_trans.nr_tasks = ps->c.nr_tasks;
	if (ps->done) {
		kp_trans.patch = NULL;
		kfree(patch->blocked);
		patch->blocked = NULL;
		pr_info("%s: %sd in %llu us after 1 pass; stop_machine pause %llu us, %u tasks checked\n",
			patch->name, kp_dir_name(enable),
			div_u64(ktime_get_ns() - kp_trans.start_ns, NSEC_PER_USEC),
			div_u64(ps->pause_ns, NSEC_PER_USEC), ps->c.nr_tasks);
		kp_patch_settled(patch, enable);
		goto out;
	}
	kp_trans.first_pending = kp_pending_left(kp_trans.pending);
	patch->transition = enable ? KP_ENABLING : KP_DISABLING;
	pr_info("%s: %s in progress: %u of %u task(s) are inside the code being replaced and switch later\n",
		patch->name, enable ? "enabling" : "disabling",
		kp_trans.first_pending, ps->c.nr_tasks);
	mod_delayed_work(system_wq, &kp_trans.work,
			 msecs_to_jiffies(kp_retry_ms));
out:
	kfree(st);
	return ret;
}

/*
 * Switch @patch on or off (kp_mutex held; its functions of present objects
 * attached).  Returns 0 when the switch is done or in progress (completion or
 * reversal end in kp_patch_settled()), -EBUSY when another patch is in
 * transition.  A request for the patch in transition reverses it.
 */
int kp_transition(struct kp_patch *patch, bool enable)
{
	struct kp_trans_start *st;
	int ret;

	lockdep_assert_held(&kp_mutex);
	/* Disabling a patch in canary aborts it; only its file promotes it. */
	if (kp_trans.patch == patch && kp_trans.canary)
		return enable ? 0 : kp_canary_abort(patch);
	if (kp_trans.patch == patch)
		return enable == kp_trans.to_patched ? 0 :
			enable && patch->rolling_back ? -EBUSY :
			kp_reverse("requested");
	ret = kp_transition_busy(patch, enable);
	if (ret)
		return ret;
	st = kp_transition_prepare(patch, enable);
	if (!st) {
		pr_err("%s: cannot %s: %d\n", patch->name, kp_dir_name(enable),
		       -ENOMEM);
		return -ENOMEM;
	}
	return kp_transition_start(patch, enable, st);
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
	old = kp_ranges_install(r);
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

/* sysfs: is @patch's transition past its timeout and pending? */
bool kp_transition_stalled(struct kp_patch *patch)
{
	return kp_trans.patch == patch && READ_ONCE(kp_trans.stalled);
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

int kp_transition_init(void)
{
	int ret;

	INIT_DELAYED_WORK(&kp_trans.work, kp_transition_work_fn);
	ret = kp_stack_init();
	if (ret)
		return ret;
	ret = kp_passes_init();
	if (ret)
		kp_stack_exit();
	return ret;
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
	kp_selfswitch_wait();
	synchronize_rcu_tasks();
	kp_passes_exit();
	kp_stack_exit();
}
