// SPDX-License-Identifier: GPL-2.0
/*
 * probation.c - a patch that switched on is on probation for a while; a
 * fault pinned on it in that time rolls it back.
 *
 * When a transition settles a patch enabled, the patch gets a slot here for
 * kp_probation_s seconds (module parameter probation, default 30; per patch
 * through /sys/kernel/kp/<patch>/probation, which kpctl load --probation
 * writes; 0: no probation).  fault.c reports every Oops, BUG, general
 * protection fault, bad page fault and WARN, lockup.c every soft or hard
 * lockup and RCU stall, to kp_probation_blame(), in whatever context the
 * kernel raised it (NMI included): the slot whose patch module text holds
 * the evidence the patch's policy accepts records what happened, lock-free,
 * and queues its CPU's irq_work, which queues the rollback work: nothing runs
 * in the fault's context but a few stores.  The kernel handles the fault as
 * always.  The irq_work is per CPU: a CPU that stays with interrupts off (a
 * hard lockup reported from its own NMI) pins only its own, and the work
 * also looks at the slots every second while a patch is on probation.
 *
 * The policy (issue 25; docs/architecture.md "Trust model").  A rollback
 * reverts a fix, maybe a security fix, and whoever can raise the fault can
 * ask for it: an unprivileged user reaches a fix's new WARN_ON(exploit
 * condition) by design.  So by default only evidence that the new code
 * itself is broken counts: an Oops, BUG or GPF whose faulting IP is in the
 * patch's code, a lockup or RCU stall whose stuck IP or one of its two
 * innermost callers is (a loop in the new code sampled inside the helper it
 * calls, ktime_get() -> read_tsc()).  A WARN (KP_ROLLBACK_WARN) and the
 * patch's code anywhere on the faulting or stuck stack (KP_ROLLBACK_STACK)
 * count only when the patch's kp_policy records or the load
 * (<patch>/rollback_on, kpctl load --rollback-on) ask for them.  The task
 * the fault hit is recorded with its uid: a rollback that a task other than
 * root (uid and euid 0) triggered is remembered unconfirmed, which refuses
 * nothing until root confirms it (memory.c).  livepatch has no probation;
 * this is kp's own.
 *
 * The work, under kp_mutex, remembers the patch as rolled back (memory.c:
 * sysfs, the log, refusal of the same module later) and disables it through
 * the normal consistency model (kp_disable_patch()): at once when no task is
 * inside the patch, else task by task.  When that transition settles the
 * core logs "<patch>: rolled back: reverted N us after the <fault>".  The
 * rollback is never reversed (kp_rollback_patch()): on its timeout it
 * reports the tasks still inside the patch and keeps kicking them; root may
 * force it.  Were it reversed anyway, it is tried again.
 *
 * A rollback that cannot start now is tried again, whatever the reason
 * (another patch in transition, out of memory, tasks forking faster than the
 * table grows), after 10 ms, then twice as long each time up to 5 s, and at
 * once when a transition settles.  One reason is checked before kp_mutex is
 * taken (issue 25, item 1): a CPU that does not answer (cpus.c).  The fault
 * that probation sees is often what keeps a CPU from scheduling (an Oops
 * that left a spinlock held, a lockup), and the disable's stop_machine would
 * then spin every other CPU until it comes: the machine would freeze.  The
 * patch then stays enabled, the log says why it cannot be rolled back, and
 * the work asks again; root may end what holds the CPU, or reboot.
 *
 * kp_probation_blame() runs in NMI-like contexts (die, #UD): it reads the
 * slots without a lock.  A slot's state is the one atomic they agree on:
 *   FREE -> ARMED (window set while the patch is still switching on)
 *        -> ACTIVE (window open) -> CLAIMED (a fault fills it) -> FAULTED
 *        -> ROLLING (disable transition started) -> FREE (settled disabled)
 * The fault path only moves ACTIVE -> CLAIMED -> FAULTED; process context
 * (kp_mutex) moves every other edge, and frees a slot only with a cmpxchg
 * from the state it saw, waiting out a CLAIMED one.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/irq_work.h>
#include <linux/kallsyms.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include "compat.h"
#include "cpus.h"
#include "memory.h"
#include "probation.h"
#include "transition.h"

#define KP_PROBATION_SLOTS	16
#define KP_RETRY_MS		10	/* the first retry of a rollback */
#define KP_RETRY_MAX_MS		5000	/* the back-off's ceiling */
#define KP_POLL_MS		1000	/* a look at the slots during probation */
#define KP_REPORT_S		30	/* "cannot roll back now" at most this often */
#define KP_PROBATION_MAX	86400	/* seconds: a longer watch is a canary */

unsigned int kp_probation_s = 30;

static int kp_probation_s_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, KP_PROBATION_MAX);
}

static const struct kernel_param_ops kp_probation_s_ops = {
	.set = kp_probation_s_set,
	.get = param_get_uint,
};

module_param_cb(probation, &kp_probation_s_ops, &kp_probation_s, 0644);
MODULE_PARM_DESC(probation, "seconds a patch stays on probation after it switched on, rolled back by a fault pinned on it (default for every patch; 0: none; at most 86400)");

/* A lockup's "top of the stack": the stuck IP and its two innermost callers. */
#define KP_LOCKUP_TOP		3

enum {
	KP_PB_FREE,
	KP_PB_ARMED,
	KP_PB_ACTIVE,
	KP_PB_CLAIMED,
	KP_PB_FAULTED,
	KP_PB_ROLLING,
};

/* What was pinned on the patch. */
struct kp_fault {
	const char *type;		/* "page fault", "WARN", "soft lockup", "check", ... */
	unsigned long addr;		/* in the patch's text; 0 for a check */
	bool on_stack;			/* a return address, not the IP */
	pid_t pid;
	uid_t uid;			/* the task's, in the initial namespace */
	bool root;			/* uid and euid 0: root triggered it */
	char comm[KP_COMM_ESC_LEN];	/* escaped: comm.c */
	u64 mono_ns;
	u64 real_ns;
	char detail[128];		/* a failed check's reason */
};

struct kp_probation {
	atomic_t state;
	struct kp_patch *patch;		/* kp_mutex */
	unsigned long text_start;	/* the patch module's core text */
	unsigned long text_end;
	unsigned int seconds;
	u64 start_ns;
	u64 deadline_ns;
	bool remembered;
	bool canary;			/* opened by a canary: no end until promoted */
	u64 rollback_on;		/* KP_ROLLBACK_*: what counts besides the default */
	unsigned int backoff_ms;	/* FAULTED: the rollback waits that long */
	u64 retry_ns;			/* FAULTED: not tried again before */
	u64 reported_ns;		/* "cannot roll back now" last logged */
	struct kp_fault fault;
};

static struct kp_probation kp_pb[KP_PROBATION_SLOTS];
static atomic_t kp_pb_open = ATOMIC_INIT(0);	/* slots ACTIVE or later */
static struct delayed_work kp_pb_work;
static DEFINE_PER_CPU(struct irq_work, kp_pb_irq_work);

/* Is any patch on probation?  The fault hooks return at once when not. */
bool kp_probation_watching(void)
{
	return atomic_read(&kp_pb_open) > 0;
}

static bool kp_pb_holds(const struct kp_probation *pb, unsigned long addr)
{
	return addr >= pb->text_start && addr < pb->text_end;
}

/*
 * The evidence against @pb's patch that its policy accepts, 0 if none:
 * @ip, else an entry of @stack (*@on_stack set).  For a lockup @stack starts
 * with the stuck IP; by default only its top counts.
 */
static unsigned long kp_pb_evidence(const struct kp_probation *pb,
				    enum kp_fault_kind kind, unsigned long ip,
				    const unsigned long *stack, unsigned int nr,
				    bool *on_stack)
{
	u64 policy = READ_ONCE(pb->rollback_on);
	unsigned int i;

	*on_stack = false;
	if (kind == KP_FAULT_WARN && !(policy & KP_ROLLBACK_WARN))
		return 0;
	if (kp_pb_holds(pb, ip))
		return ip;
	if (!(policy & KP_ROLLBACK_STACK))
		nr = kind == KP_FAULT_LOCKUP ? min(nr, KP_LOCKUP_TOP) : 0;
	for (i = 0; i < nr; i++) {
		if (kp_pb_holds(pb, stack[i])) {
			*on_stack = stack[i] != ip;
			return stack[i];
		}
	}
	return 0;
}

/* Who is current, for the record: its uid, and whether it is root. */
static void kp_pb_who(struct kp_fault *f)
{
	const struct cred *cred = current_cred();

	f->pid = task_pid_nr(current);
	f->uid = from_kuid(&init_user_ns, cred->uid);
	f->root = uid_eq(cred->uid, GLOBAL_ROOT_UID) &&
		  uid_eq(cred->euid, GLOBAL_ROOT_UID);
	kp_task_comm(f->comm, current);
}

/* Any context, no lock: record a fault in the slot of the patch it hit. */
void kp_probation_blame(enum kp_fault_kind kind, const char *type,
			unsigned long ip, const unsigned long *stack,
			unsigned int nr)
{
	u64 now = ktime_get_mono_fast_ns();
	struct kp_probation *pb;
	unsigned long addr;
	bool on_stack;

	for (pb = kp_pb; pb < kp_pb + KP_PROBATION_SLOTS; pb++) {
		if (atomic_read_acquire(&pb->state) != KP_PB_ACTIVE ||
		    now >= READ_ONCE(pb->deadline_ns))
			continue;
		addr = kp_pb_evidence(pb, kind, ip, stack, nr, &on_stack);
		if (!addr || atomic_cmpxchg(&pb->state, KP_PB_ACTIVE,
					    KP_PB_CLAIMED) != KP_PB_ACTIVE)
			continue;
		pb->fault.type = type;
		pb->fault.addr = addr;
		pb->fault.on_stack = on_stack;
		kp_pb_who(&pb->fault);
		pb->fault.mono_ns = now;
		pb->fault.real_ns = ktime_get_real_fast_ns();
		pb->fault.detail[0] = '\0';
		atomic_set_release(&pb->state, KP_PB_FAULTED);
		irq_work_queue(this_cpu_ptr(&kp_pb_irq_work));
	}
}

static void kp_pb_irq_work_fn(struct irq_work *work)
{
	mod_delayed_work(system_wq, &kp_pb_work, 0);
}

static struct kp_probation *kp_pb_find(struct kp_patch *patch)
{
	struct kp_probation *pb;

	for (pb = kp_pb; pb < kp_pb + KP_PROBATION_SLOTS; pb++)
		if (atomic_read(&pb->state) != KP_PB_FREE && pb->patch == patch)
			return pb;
	return NULL;
}

static struct kp_probation *kp_pb_alloc(struct kp_patch *patch)
{
	struct kp_probation *pb;

	for (pb = kp_pb; pb < kp_pb + KP_PROBATION_SLOTS; pb++) {
		if (atomic_read(&pb->state) == KP_PB_FREE) {
			memset(&pb->fault, 0, sizeof(pb->fault));
			pb->patch = patch;
			pb->remembered = false;
			pb->canary = false;
			pb->backoff_ms = 0;
			pb->retry_ns = 0;
			pb->reported_ns = 0;
			WRITE_ONCE(pb->rollback_on, patch->rollback_on);
			atomic_set(&pb->state, KP_PB_ARMED);
			return pb;
		}
	}
	pr_warn("%s: no probation: %d patches are on probation already\n",
		patch->name, KP_PROBATION_SLOTS);
	return NULL;
}

/* Free @pb (kp_mutex held); returns the state it was in. */
static int kp_pb_free(struct kp_probation *pb)
{
	int st;

	for (;;) {
		st = atomic_read(&pb->state);
		if (st == KP_PB_CLAIMED) {
			cpu_relax();	/* a fault is being recorded */
			continue;
		}
		if (atomic_cmpxchg(&pb->state, st, KP_PB_FREE) == st)
			break;
	}
	if (st >= KP_PB_ACTIVE)
		atomic_dec(&kp_pb_open);
	pb->patch = NULL;
	return st;
}

/* Open the window of @pb for @seconds from now (kp_mutex held). */
static void kp_pb_start(struct kp_probation *pb, unsigned int seconds)
{
	struct module *mod = pb->patch->mod;

	pb->text_start = kp_mod_text_start(mod);
	pb->text_end = pb->text_start + kp_mod_text_size(mod);
	pb->seconds = seconds;
	pb->start_ns = ktime_get_mono_fast_ns();
	WRITE_ONCE(pb->deadline_ns, pb->start_ns + (u64)seconds * NSEC_PER_SEC);
	if (atomic_read(&pb->state) != KP_PB_ACTIVE) {
		atomic_inc(&kp_pb_open);
		atomic_set_release(&pb->state, KP_PB_ACTIVE);
	}
	if (pb->canary)
		pr_info("%s: on probation during the canary, then for %u s\n",
			pb->patch->name, seconds);
	else
		pr_info("%s: on probation for %u s\n", pb->patch->name, seconds);
	mod_delayed_work(system_wq, &kp_pb_work, 0);
}

/* "<type> at <function+off/size [module]> ..., task, time" of @pb's fault. */
static void kp_pb_why(const struct kp_probation *pb, char *why, size_t len)
{
	const struct kp_fault *f = &pb->fault;
	u64 into_ms = div_u64(f->mono_ns - pb->start_ns, NSEC_PER_MSEC);
	struct tm tm;
	int n;

	time64_to_tm(div_u64(f->real_ns, NSEC_PER_SEC), 0, &tm);
	if (f->addr)
		n = scnprintf(why, len, "%s at %pS%s, task %d %s uid %u",
			      f->type, (void *)f->addr,
			      f->on_stack ? " (on the stack)" : "", f->pid, f->comm,
			      f->uid);
	else
		n = scnprintf(why, len, "%s failed: %s", f->type, f->detail);
	scnprintf(why + n, len - n,
		  ", %04ld-%02d-%02dT%02d:%02d:%02dZ, %llu ms into probation",
		  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		  tm.tm_min, tm.tm_sec, into_ms);
}

/* Log and remember @pb's fault once (kp_mutex held). */
static void kp_pb_remember(struct kp_probation *pb)
{
	char why[KP_WHY_MAX];

	if (pb->remembered)
		return;
	pb->remembered = true;
	kp_pb_why(pb, why, sizeof(why));
	pr_err("%s: rolling back: %s\n", pb->patch->name, why);
	if (!pb->fault.root)
		pr_warn("%s: the rollback was triggered by uid %u, not root: remembered unconfirmed, the module is not refused until root confirms it (\"confirm <build_id>\" in /sys/kernel/kp/rolled_back, kpctl confirm %s)\n",
			pb->patch->name, pb->fault.uid, pb->patch->name);
	kp_memory_add(pb->patch->mod, pb->patch->name, why, pb->fault.root);
}

/*
 * A rollback that cannot start now (@ret; @stuck when a CPU did not answer):
 * @pb stays FAULTED, with the patch enabled, and is tried again later.
 */
static void kp_pb_defer(struct kp_probation *pb, int ret,
			const struct kp_cpus_stuck *stuck, u64 now)
{
	const char *name = pb->patch->name;

	atomic_set(&pb->state, KP_PB_FAULTED);
	pb->backoff_ms = clamp_t(unsigned int, pb->backoff_ms * 2, KP_RETRY_MS,
				 KP_RETRY_MAX_MS);
	pb->retry_ns = now + (u64)pb->backoff_ms * NSEC_PER_MSEC;
	if (pb->reported_ns &&
	    now - pb->reported_ns < (u64)KP_REPORT_S * NSEC_PER_SEC)
		return;
	pb->reported_ns = now;
	if (stuck)
		pr_err("%s: cannot roll back now: CPU %d has not answered for %llu ms, and stop_machine would hold every other CPU until it does; the patch stays enabled, tried again at least every %u s; root may end what holds that CPU, or reboot\n",
		       name, stuck->cpu, stuck->ms, KP_RETRY_MAX_MS / 1000);
	else
		pr_err("%s: cannot roll back now (%d%s): the patch stays enabled, tried again in %u ms, then less often\n",
		       name, ret, ret == -EBUSY ? ": another patch is in transition" :
		       ret == -ENOMEM ? ": out of memory" :
		       ret == -ETIMEDOUT ? ": a CPU does not answer" : "",
		       pb->backoff_ms);
}

/*
 * Roll the patch of the FAULTED @pb back (kp_mutex held).  False when it
 * must be tried again later.
 */
static bool kp_pb_rollback(struct kp_probation *pb)
{
	int ret;

	kp_pb_remember(pb);
	/* ROLLING first: a disable that completes at once frees the slot. */
	atomic_set(&pb->state, KP_PB_ROLLING);
	ret = kp_rollback_patch(pb->patch);
	if (ret) {
		kp_pb_defer(pb, ret, NULL, ktime_get_mono_fast_ns());
		return false;
	}
	return true;
}

/*
 * Is a rollback due (no lock: the work checks again under kp_mutex)?  The
 * CPUs are then asked to answer before kp_mutex is taken.
 */
static bool kp_pb_rollback_due(u64 now)
{
	struct kp_probation *pb;

	for (pb = kp_pb; pb < kp_pb + KP_PROBATION_SLOTS; pb++)
		if (atomic_read(&pb->state) == KP_PB_FAULTED &&
		    now >= READ_ONCE(pb->retry_ns))
			return true;
	return false;
}

static void kp_pb_work_fn(struct work_struct *work)
{
	u64 now = ktime_get_mono_fast_ns(), next = U64_MAX;
	struct kp_cpus_stuck stuck;
	struct kp_probation *pb;
	bool answered = true;

	if (kp_pb_rollback_due(now))
		answered = !kp_cpus_answer(&stuck);	/* waits: no kp_mutex */
	mutex_lock(&kp_mutex);
	now = ktime_get_mono_fast_ns();
	for (pb = kp_pb; pb < kp_pb + KP_PROBATION_SLOTS; pb++) {
		int st = atomic_read(&pb->state);

		if (st == KP_PB_FAULTED && now >= pb->retry_ns) {
			if (!answered) {
				kp_pb_remember(pb);
				kp_pb_defer(pb, -ETIMEDOUT, &stuck, now);
			} else {
				kp_pb_rollback(pb);
			}
		}
		if (atomic_read(&pb->state) == KP_PB_FAULTED)
			next = min(next, pb->retry_ns);
		if (st != KP_PB_ACTIVE)
			continue;
		if (now < pb->deadline_ns) {
			/* Also a look now and then: an irq_work may be pinned. */
			next = min3(next, pb->deadline_ns,
				    now + (u64)KP_POLL_MS * NSEC_PER_MSEC);
		} else if (atomic_cmpxchg(&pb->state, KP_PB_ACTIVE,
					  KP_PB_FREE) == KP_PB_ACTIVE) {
			struct kp_patch *patch = pb->patch;

			atomic_dec(&kp_pb_open);
			pr_info("%s: probation over: no fault in %u s\n",
				patch->name, pb->seconds);
			pb->patch = NULL;
			kp_patch_probation_over(patch);	/* replace.c */
		} else {
			next = now;	/* a fault came in meanwhile */
		}
	}
	mutex_unlock(&kp_mutex);
	if (next != U64_MAX)
		mod_delayed_work(system_wq, &kp_pb_work,
				 next > now ? nsecs_to_jiffies(next - now) + 1 : 0);
}

/* A transition settled: a rollback that waited for it goes now. */
static void kp_pb_kick_faulted(void)
{
	struct kp_probation *pb;
	bool any = false;

	for (pb = kp_pb; pb < kp_pb + KP_PROBATION_SLOTS; pb++) {
		if (atomic_read(&pb->state) == KP_PB_FAULTED) {
			pb->retry_ns = 0;
			any = true;
		}
	}
	if (any)
		mod_delayed_work(system_wq, &kp_pb_work, 0);
}

/* A transition of @patch settled in state @enabled (kp_mutex held). */
void kp_probation_settled(struct kp_patch *patch, bool enabled)
{
	struct kp_probation *pb = kp_pb_find(patch);
	unsigned int seconds;

	kp_pb_kick_faulted();
	if (!enabled) {
		if (!pb)
			return;
		if (atomic_read(&pb->state) >= KP_PB_CLAIMED) {
			while (atomic_read(&pb->state) == KP_PB_CLAIMED)
				cpu_relax();
			kp_pb_remember(pb);
			pr_warn("%s: rolled back: reverted %llu us after the %s\n",
				patch->name,
				div_u64(ktime_get_mono_fast_ns() - pb->fault.mono_ns,
					NSEC_PER_USEC), pb->fault.type);
		}
		kp_pb_free(pb);
		return;
	}
	if (pb && atomic_read(&pb->state) == KP_PB_ROLLING) {
		pr_crit("%s: the rollback was reversed: trying again\n",
			patch->name);
		atomic_set(&pb->state, KP_PB_FAULTED);
		mod_delayed_work(system_wq, &kp_pb_work,
				 msecs_to_jiffies(KP_RETRY_MS));
		return;
	}
	if (pb && pb->canary && atomic_read(&pb->state) == KP_PB_ACTIVE) {
		pb->canary = false;	/* promoted: the window starts now */
		kp_pb_start(pb, pb->seconds);
		return;
	}
	if (pb && atomic_read(&pb->state) != KP_PB_ARMED)
		return;		/* a reversed disable: probation goes on */
	seconds = pb ? pb->seconds : READ_ONCE(kp_probation_s);
	if (!seconds) {
		if (pb)
			kp_pb_free(pb);
		return;
	}
	if (!pb)
		pb = kp_pb_alloc(patch);
	if (pb)
		kp_pb_start(pb, seconds);
}

/*
 * A canary of @patch opened (kp_mutex held): watch it from now on, with no
 * end, until it is promoted (the window then starts, kp_probation_settled())
 * or aborted.  A fault pinned on it rolls it back: the canary aborts.
 */
void kp_probation_canary(struct kp_patch *patch)
{
	struct kp_probation *pb = kp_pb_find(patch);
	unsigned int seconds = pb ? pb->seconds : READ_ONCE(kp_probation_s);

	if (!seconds)
		return;
	if (!pb)
		pb = kp_pb_alloc(patch);
	if (!pb)
		return;
	pb->seconds = seconds;
	pb->canary = true;
	kp_pb_start(pb, seconds);
	WRITE_ONCE(pb->deadline_ns, U64_MAX);
}

/* Seconds of @patch's probation left (kp_mutex held; 0: none or over). */
unsigned int kp_probation_left(struct kp_patch *patch)
{
	struct kp_probation *pb = kp_pb_find(patch);
	u64 now;

	if (pb && (atomic_read(&pb->state) == KP_PB_ARMED || pb->canary))
		return pb->seconds;	/* from the switch (or the promotion) */
	if (pb && atomic_read(&pb->state) == KP_PB_ACTIVE) {
		now = ktime_get_mono_fast_ns();
		if (now < pb->deadline_ns)
			return DIV_ROUND_UP_ULL(pb->deadline_ns - now,
						NSEC_PER_SEC);
	}
	return 0;
}

/*
 * Seconds from now (from the switch, while the patch is still switching on);
 * 0 ends the probation.
 */
int kp_probation_set(struct kp_patch *patch, unsigned int seconds)
{
	struct kp_probation *pb = kp_pb_find(patch);
	int st = pb ? atomic_read(&pb->state) : KP_PB_FREE;

	if (patch->removing || !patch->enabled || seconds > KP_PROBATION_MAX)
		return -EINVAL;
	if (st >= KP_PB_CLAIMED)
		return -EBUSY;		/* being rolled back */
	if (!seconds) {
		if (pb) {
			kp_pb_free(pb);
			pr_info("%s: probation ended\n", patch->name);
		}
		kp_patch_probation_over(patch);	/* replace.c */
		return 0;
	}
	if (!pb)
		pb = kp_pb_alloc(patch);
	if (!pb)
		return -ENOSPC;
	pb->seconds = seconds;
	if (!kp_in_transition(patch))
		kp_pb_start(pb, seconds);
	return 0;
}

/*
 * A health check outside the kernel failed (kpctl load --check): roll back
 * (kp_mutex held).
 */
int kp_probation_fail(struct kp_patch *patch, const char *reason)
{
	struct kp_probation *pb = kp_pb_find(patch);
	int st = pb ? atomic_read(&pb->state) : KP_PB_FREE;

	if (patch->removing || !patch->enabled)
		return -EINVAL;
	if (st >= KP_PB_CLAIMED)
		return 0;		/* already being rolled back */
	if (!pb) {
		pb = kp_pb_alloc(patch);
		if (!pb)
			return -ENOSPC;
	}
	if (st != KP_PB_ACTIVE) {
		atomic_inc(&kp_pb_open);
		pb->start_ns = ktime_get_mono_fast_ns();
	}
	atomic_set(&pb->state, KP_PB_CLAIMED);	/* the fault path keeps off */
	pb->fault.type = "check";
	pb->fault.addr = 0;
	kp_pb_who(&pb->fault);
	pb->fault.mono_ns = ktime_get_mono_fast_ns();
	pb->fault.real_ns = ktime_get_real_fast_ns();
	strscpy(pb->fault.detail, reason, sizeof(pb->fault.detail));
	strim(pb->fault.detail);
	atomic_set(&pb->state, KP_PB_FAULTED);
	if (!kp_pb_rollback(pb))
		mod_delayed_work(system_wq, &kp_pb_work,
				 msecs_to_jiffies(pb->backoff_ms));
	return 0;
}

/*
 * The kinds of fault the kp_policy records of @patch add to the default
 * (at register, before the patch is enabled); an unknown kind refuses it.
 */
int kp_probation_policy(struct kp_patch *patch)
{
	const struct kp_policy_rec *p = (void *)(unsigned long)patch->rec->policy;
	const struct kp_policy_rec *end =
		(void *)(unsigned long)patch->rec->policy_end;

	for (; p && p < end; p++) {
		if (p->rollback_on & ~KP_ROLLBACK_ALL) {
			pr_err("%s: kp_policy record with unknown rollback kinds %#llx\n",
			       patch->name, p->rollback_on & ~KP_ROLLBACK_ALL);
			return -EINVAL;
		}
		patch->rollback_on |= p->rollback_on;
	}
	return 0;
}

/* Add @kinds for this load (kp_mutex held; <patch>/rollback_on). */
int kp_probation_rollback_on(struct kp_patch *patch, u64 kinds)
{
	struct kp_probation *pb = kp_pb_find(patch);

	if (kinds & ~KP_ROLLBACK_ALL)
		return -EINVAL;
	patch->rollback_on |= kinds;
	if (pb)
		WRITE_ONCE(pb->rollback_on, patch->rollback_on);
	return 0;
}

/* Before the fault hooks that report to it (core.c). */
void kp_probation_init(void)
{
	int cpu;

	INIT_DELAYED_WORK(&kp_pb_work, kp_pb_work_fn);
	for_each_possible_cpu(cpu)
		init_irq_work(per_cpu_ptr(&kp_pb_irq_work, cpu),
			      kp_pb_irq_work_fn);
}

/*
 * No patch is left (every patch module holds a reference on kp_core), and
 * the fault hooks are gone.
 */
void kp_probation_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		irq_work_sync(per_cpu_ptr(&kp_pb_irq_work, cpu));
	cancel_delayed_work_sync(&kp_pb_work);
}
