// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of cmdline_proc_show() for the probation tests
 * (test_probation.py).  Variants, selected by the build (kmod/Makefile):
 *   KP_OLD_SIZE    size of cmdline_proc_show in the target vmlinux (required)
 *   KP_NULL_DEREF  the replacement dereferences NULL: the reader oopses
 *   KP_WARN        the replacement hits a WARN_ON and goes on
 *   KP_WARN_REC    with KP_WARN: the patch's kp_policy record asks for a
 *                  rollback on a WARN (KP_ROLLBACK_ON)
 *   KP_LOCK        the replacement takes kp_test_lock (kp_test_lock.ko) and
 *                  dereferences NULL under it: the reader dies holding it
 *   KP_STACK_FAULT the replacement passes NULL to seq_puts(): the Oops is in
 *                  vmlinux (strlen), the new code only on the stack
 *   KP_SPIN        the replacement spins for the module parameter spin_ms
 *                  with preemption disabled (or interrupts, spin_irqs_off):
 *                  a soft lockup or an RCU stall in the new code; with
 *                  spin_warn, a WARN first (interrupts already off); with
 *                  spin_in_gp it first waits for a grace period (one CPU)
 *   (neither)      the replacement prints "kp-probation-ok"
 */
#include <linux/bug.h>
#include <linux/irqflags.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include "kp_patch.h"
#include "kp_rcu_gp.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of cmdline_proc_show) is required"
#endif

#ifdef KP_NULL_DEREF
static int *kp_null_ptr;	/* stays NULL: the compiler cannot know */

static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "kp-null-%d\n", READ_ONCE(*READ_ONCE(kp_null_ptr)));
	return 0;
}
#elif defined(KP_LOCK)
extern spinlock_t kp_test_lock;
static int *kp_null_ptr;	/* stays NULL */

static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	spin_lock(&kp_test_lock);
	seq_printf(m, "kp-locked-%d\n", READ_ONCE(*READ_ONCE(kp_null_ptr)));
	spin_unlock(&kp_test_lock);
	return 0;
}
#elif defined(KP_STACK_FAULT)
static const char *kp_null_str;	/* stays NULL */

static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, READ_ONCE(kp_null_str));
	return 0;
}
#elif defined(KP_WARN)
static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	WARN_ON(READ_ONCE(m->count) == 0);
	seq_puts(m, "kp-warned\n");
	return 0;
}

#ifdef KP_WARN_REC
KP_ROLLBACK_ON(KP_ROLLBACK_WARN);
#endif
#elif defined(KP_SPIN)
static unsigned int spin_ms;
module_param(spin_ms, uint, 0644);
MODULE_PARM_DESC(spin_ms, "milliseconds each read of /proc/cmdline spins");
static bool spin_irqs_off;
module_param(spin_irqs_off, bool, 0644);
MODULE_PARM_DESC(spin_irqs_off, "spin with interrupts disabled, not only preemption");
static bool spin_warn;
module_param(spin_warn, bool, 0644);
MODULE_PARM_DESC(spin_warn, "WARN before the spin, once preemption or interrupts are off");
static bool spin_in_gp;
module_param(spin_in_gp, bool, 0644);
MODULE_PARM_DESC(spin_in_gp, "start the spin (preemption off) inside an RCU grace period");

/*
 * Disable preemption inside a grace period.  On one CPU none can start
 * during the spin, as the grace-period kthread cannot run; one under way
 * when preemption goes off cannot end either: it stalls.
 */
static void kp_preempt_disable_in_gp(void)
{
	int i;

	for (i = 0; i < 1000; i++) {
		start_poll_synchronize_rcu();
		preempt_disable();
		if (rcu_get_gp_seq() & KP_RCU_SEQ_STATE_MASK)
			return;
		preempt_enable();
		schedule_timeout_uninterruptible(1);
	}
	preempt_disable();
}

static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	bool irqs_off = READ_ONCE(spin_irqs_off);
	unsigned long flags = 0;
	u64 end;

	if (irqs_off)
		local_irq_save(flags);
	else if (READ_ONCE(spin_in_gp))
		kp_preempt_disable_in_gp();
	else
		preempt_disable();
	WARN_ON(READ_ONCE(spin_warn));
	end = ktime_get_ns() + (u64)READ_ONCE(spin_ms) * NSEC_PER_MSEC;
	while (ktime_get_ns() < end)
		cpu_relax();
	if (irqs_off)
		local_irq_restore(flags);
	else
		preempt_enable();
	seq_puts(m, "kp-spun\n");
	return 0;
}
#else
static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "kp-probation-ok\n");
	return 0;
}
#endif

KP_FUNC(KP_OBJ_VMLINUX, "cmdline_proc_show", 0, KP_OLD_SIZE,
	kp_cmdline_proc_show);
