// SPDX-License-Identifier: GPL-2.0
/*
 * Faults in code no patch replaces (test_probation.py), while a patch is on
 * probation: reading /proc/kp_test_oops dereferences NULL, so the reader
 * oopses in this module's code; reading /proc/kp_test_spin spins with
 * preemption disabled for spin_ms (a soft lockup here).
 */
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int *kp_oops_ptr;	/* stays NULL */

static int kp_oops_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", READ_ONCE(*READ_ONCE(kp_oops_ptr)));
	return 0;
}

static unsigned int spin_ms = 4000;
module_param(spin_ms, uint, 0644);
MODULE_PARM_DESC(spin_ms, "milliseconds each read of /proc/kp_test_spin spins");

static int kp_spin_show(struct seq_file *m, void *v)
{
	u64 end = ktime_get_ns() + (u64)READ_ONCE(spin_ms) * NSEC_PER_MSEC;

	preempt_disable();
	while (ktime_get_ns() < end)
		cpu_relax();
	preempt_enable();
	seq_puts(m, "spun\n");
	return 0;
}

static int __init kp_oops_init(void)
{
	if (!proc_create_single("kp_test_oops", 0444, NULL, kp_oops_show))
		return -ENOMEM;
	if (!proc_create_single("kp_test_spin", 0444, NULL, kp_spin_show)) {
		remove_proc_entry("kp_test_oops", NULL);
		return -ENOMEM;
	}
	return 0;
}

static void __exit kp_oops_exit(void)
{
	remove_proc_entry("kp_test_spin", NULL);
	remove_proc_entry("kp_test_oops", NULL);
}

module_init(kp_oops_init);
module_exit(kp_oops_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: an oops and a lockup in unpatched code");
