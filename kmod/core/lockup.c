// SPDX-License-Identifier: GPL-2.0
/*
 * lockup.c - soft lockups, hard lockups and RCU CPU stalls, for probation
 * (probation.c): each is pinned on the patch whose code is on the stuck
 * CPU's stack.  kp only observes: the kernel reports (and maybe panics) as
 * it always does.
 *
 * Linux 6.1 calls no notifier for them (the RCU stall notifier chain came
 * in 6.2; the lockup detectors print, taint and maybe panic).  What they
 * have in common is how they show the stuck context: show_regs(regs) with
 * the registers of the code that was interrupted on the stuck CPU, called
 * on that CPU:
 *   - soft lockup: watchdog_timer_fn(), the watchdog hrtimer, finds that the
 *     stop-machine work it queues has not run for 2 * watchdog_thresh s:
 *     regs = get_irq_regs(), current is the stuck task;
 *   - hard lockup: watchdog_overflow_callback(), the perf NMI watchdog,
 *     finds the hrtimer has not run: regs are the NMI's;
 *   - RCU stall: check_cpu_stall(), in the scheduler tick, either finds its
 *     own CPU has not passed a quiescent state ("self-detected": CPU A is
 *     the stuck one) or another CPU has not ("detected stalls on CPUs":
 *     CPU A reports B).  Both dump every stalled CPU with dump_cpu_task():
 *     for A itself show_regs(get_irq_regs()), for B an NMI
 *     (trigger_single_cpu_backtrace()) whose handler runs
 *     nmi_cpu_backtrace(its NMI regs) -> show_regs().  So each stalled CPU's
 *     own stack is read on that CPU, while it is stuck, as the kernel prints
 *     it.
 * One kprobe on show_regs() sees all three.  The caller (the return address
 * on the stack: watchdog_timer_fn, watchdog_overflow_callback or
 * nmi_cpu_backtrace, with their .cold parts) says which report it is.
 * dump_cpu_task() tail-calls show_regs() (in the test kernel and in
 * Debian's), so its own-CPU dump is known instead by what it dumps: on the
 * reporting CPU, the regs its tick interrupted (get_irq_regs()).  Not by
 * the handler's context: a kprobe that is not optimized (an int3: with
 * debug.kprobes-optimization=0, on a kernel without OPTPROBES, or before
 * the optimizer ran) runs its handler from exc_int3(), in NMI context
 * (irqentry_nmi_enter()) whatever it interrupted, so in_nmi() and
 * in_hardirq() there say nothing of the caller (issue 25).  Both RCU cases
 * count only while an RCU stall report is open: nmi_cpu_backtrace also
 * serves sysrq-l, hung-task and all-CPU lockup backtraces, which blame
 * nothing.  The report opens with the rcu_stall_warning tracepoint (which
 * check_cpu_stall()'s reports fire before printing) and ends with the
 * reporting CPU's tick (an irq_work queued on it runs once its interrupts
 * are enabled again; the NMI backtraces complete inside the report: the
 * reporter waits for them).  The blame is the stuck context's IP, else a
 * return address of its stack (stack_trace_save_regs() from regs: the top
 * three entries by default, all with KP_ROLLBACK_STACK; probation.c), in a
 * patch's text; the task is the stuck CPU's current.
 *
 * Not covered: expedited RCU stalls (their report runs in a task, where
 * the gate above cannot be bounded the same way), tasks blocking a grace
 * period while preempted in an RCU read-side section (they are not on a
 * CPU; the report shows their stacks with sched_show_task()), and the
 * hard lockup detector is resolved but never exercised in the tests: QEMU
 * TCG has no PMU, so there is no perf NMI watchdog.  A missing hook (a
 * kernel without a detector, kprobes or tracepoints) costs only what it
 * would have caught; the log says which.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <asm/irq_regs.h>
#include "kallsyms.h"
#include "lockup.h"
#include "probation.h"
#include "symbols.h"

#define KP_LOCKUP_STACK	64

/* A function that calls show_regs() to report a stuck CPU. */
struct kp_reporter {
	const char *name;
	const char *type;		/* what probation records */
	bool rcu_gated;			/* counts only in an RCU stall report */
	unsigned long start[2];		/* the function, its .cold part */
	unsigned long end[2];
};

static struct kp_reporter kp_reporters[] = {
	{ .name = "watchdog_timer_fn", .type = "soft lockup" },
	{ .name = "watchdog_overflow_callback", .type = "hard lockup" },
	{ .name = "nmi_cpu_backtrace", .type = "RCU stall", .rcu_gated = true },
};

/*
 * One stack buffer per CPU: the handler never nests on a CPU (a kprobe hit
 * while a kprobe handler runs there, an NMI's included, only counts as
 * missed: kprobes' reenter_kprobe() and optimized_callback()).
 */
static DEFINE_PER_CPU(unsigned long [KP_LOCKUP_STACK], kp_lockup_stack);

/* The CPU reporting an RCU stall, -1 when none. */
static atomic_t kp_rcu_stall_cpu = ATOMIC_INIT(-1);
static struct irq_work kp_rcu_stall_done;
static struct tracepoint *kp_rcu_stall_tp;
static bool kp_show_regs_watched;

static const struct kp_reporter *kp_reporter_of(unsigned long caller)
{
	const struct kp_reporter *r;
	int i;

	for (r = kp_reporters; r < kp_reporters + ARRAY_SIZE(kp_reporters);
	     r++)
		for (i = 0; i < 2; i++)
			if (caller >= r->start[i] && caller < r->end[i])
				return r;
	return NULL;
}

/*
 * Is show_regs(@stuck), called from @r (NULL: none of the reporters), a
 * stalled CPU's dump in an open RCU stall report?  Another CPU's comes
 * through nmi_cpu_backtrace(), the reporting CPU's own from dump_cpu_task()
 * in its tick: the regs that tick interrupted.  The report is open on that
 * CPU from its tick's tracepoint to the irq_work whose self-IPI (a high
 * vector) is taken as soon as interrupts are enabled again: no other
 * interrupt's show_regs() comes in between, and an NMI's is a reporter's
 * or shows its own regs.
 */
static bool kp_rcu_stall_dump(const struct kp_reporter *r,
			      struct pt_regs *stuck)
{
	int cpu = atomic_read(&kp_rcu_stall_cpu);

	if (cpu < 0)
		return false;
	if (r)
		return r->rcu_gated;
	return cpu == smp_processor_id() && stuck == get_irq_regs();
}

/* show_regs(regs): any context, the NMI one included. */
static int kp_show_regs_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct pt_regs *stuck = (struct pt_regs *)regs->di;
	unsigned long caller = *(unsigned long *)regs->sp;
	const struct kp_reporter *r;
	unsigned long *stack;
	const char *type;
	unsigned int nr;

	if (!kp_probation_watching() || !stuck || user_mode(stuck))
		return 0;
	r = kp_reporter_of(caller);
	if (r && !r->rcu_gated)
		type = r->type;
	else if (kp_rcu_stall_dump(r, stuck))
		type = "RCU stall";
	else
		return 0;
	stack = *this_cpu_ptr(&kp_lockup_stack);
	nr = kp_stack_save_regs(stuck, stack, KP_LOCKUP_STACK);
	kp_probation_blame(KP_FAULT_LOCKUP, type, instruction_pointer(stuck),
			   stack, nr);
	return 0;
}

static struct kprobe kp_show_regs_kprobe = {
	.symbol_name = "show_regs",
	.pre_handler = kp_show_regs_pre,
};

/* rcu_stall_warning(rcuname, msg), in the reporting CPU's tick. */
static void kp_rcu_stall_probe(void *data, const char *rcuname,
			       const char *msg)
{
	if (!kp_probation_watching() ||
	    (strcmp(msg, "SelfDetected") && strcmp(msg, "StallDetected")))
		return;
	atomic_set(&kp_rcu_stall_cpu, smp_processor_id());
	irq_work_queue(&kp_rcu_stall_done);
}

/* The reporting CPU's tick is over, and so is its report. */
static void kp_rcu_stall_done_fn(struct irq_work *work)
{
	atomic_set(&kp_rcu_stall_cpu, -1);
}

static void kp_find_rcu_stall_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "rcu_stall_warning"))
		kp_rcu_stall_tp = tp;
}

/* Where each reporter's code lies; false when none is in this kernel. */
static bool kp_find_reporters(void)
{
	char cold[KSYM_NAME_LEN];
	unsigned long size, off;
	bool any = false;
	int i, n;

	for (i = 0; i < ARRAY_SIZE(kp_reporters); i++) {
		struct kp_reporter *r = &kp_reporters[i];

		snprintf(cold, sizeof(cold), "%s.cold", r->name);
		for (n = 0; n < 2; n++) {
			unsigned long a = kp_symbol_address(n ? cold : r->name);

			if (!a || !kp_symbol_size(a, &size, &off) || off)
				continue;
			r->start[n] = a;
			r->end[n] = a + size;
		}
		if (r->start[0])
			any = true;
		else
			pr_info("probation does not watch %ss: no %s in this kernel\n",
				r->type, r->name);
	}
	return any;
}

/* Probation goes on without what cannot be hooked; the log says what. */
void kp_lockup_init(void)
{
	int ret;

	init_irq_work(&kp_rcu_stall_done, kp_rcu_stall_done_fn);
	if (!kp_find_reporters())
		return;
	kp_show_regs_kprobe.offset = kp_after_fentry("show_regs");
	ret = register_kprobe(&kp_show_regs_kprobe);
	if (ret) {
		pr_warn("probation does not watch lockups or RCU stalls: no kprobe on show_regs (%d)\n",
			ret);
		return;
	}
	kp_show_regs_watched = true;
	for_each_kernel_tracepoint(kp_find_rcu_stall_tp, NULL);
	ret = kp_rcu_stall_tp ?
	      tracepoint_probe_register(kp_rcu_stall_tp,
					(void *)kp_rcu_stall_probe, NULL) :
	      -ENOENT;
	if (ret) {
		pr_warn("probation does not watch RCU stalls: no rcu_stall_warning tracepoint (%d)\n",
			ret);
		kp_rcu_stall_tp = NULL;
	}
}

void kp_lockup_exit(void)
{
	if (kp_rcu_stall_tp) {
		tracepoint_probe_unregister(kp_rcu_stall_tp,
					    (void *)kp_rcu_stall_probe, NULL);
		tracepoint_synchronize_unregister();
	}
	if (kp_show_regs_watched)
		unregister_kprobe(&kp_show_regs_kprobe);
	irq_work_sync(&kp_rcu_stall_done);
}
