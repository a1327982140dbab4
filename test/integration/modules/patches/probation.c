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
 *                  spin_warn, a WARN first (interrupts already off)
 *   (neither)      the replacement prints "kp-probation-ok"
 */
#include <linux/bug.h>
#include <linux/irqflags.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/preempt.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include "kp_patch.h"

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

static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	u64 end = ktime_get_ns() + (u64)READ_ONCE(spin_ms) * NSEC_PER_MSEC;
	bool irqs_off = READ_ONCE(spin_irqs_off);
	unsigned long flags = 0;

	if (irqs_off)
		local_irq_save(flags);
	else
		preempt_disable();
	WARN_ON(READ_ONCE(spin_warn));
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
