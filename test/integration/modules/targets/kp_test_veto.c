// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_veto.ko: a function any user can hold in a killable sleep (issue
 * 25, item 6: one task must not veto a fix for everyone).
 *   cat /proc/kp_test_veto          (0444) kp_veto_value(true): sleeps in
 *                                   wait_event_killable() inside it until
 *                                   the next release, then prints its value
 *   cat /proc/kp_test_veto_state    (0444) "value=V sleepers=N signalled=S":
 *                                   kp_veto_value(false) now, the readers
 *                                   asleep in it, and how many woke with a
 *                                   signal pending (a livepatch fake signal)
 *   echo 1 > /proc/kp_test_veto_release  (0200) wake every sleeper
 * The patch (modules/patches/veto.c) returns 2 instead of 1.
 */
#include <linux/atomic.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/wait.h>

static DECLARE_WAIT_QUEUE_HEAD(kp_veto_wq);
static atomic_t kp_veto_gen = ATOMIC_INIT(0);
static atomic_t kp_veto_sleepers = ATOMIC_INIT(0);
static atomic_t kp_veto_signalled = ATOMIC_INIT(0);

/* Sleep (killable) until the next release; used by the original and the patch. */
int kp_veto_wait(void)
{
	int gen = atomic_read(&kp_veto_gen);
	int ret;

	atomic_inc(&kp_veto_sleepers);
	ret = wait_event_killable(kp_veto_wq, atomic_read(&kp_veto_gen) != gen);
	if (signal_pending(current))
		atomic_inc(&kp_veto_signalled);
	atomic_dec(&kp_veto_sleepers);
	return ret;
}
EXPORT_SYMBOL_GPL(kp_veto_wait);

/* The function the patch replaces; @hold is read at run time (no clones). */
noinline int kp_veto_value(const bool *hold)
{
	if (READ_ONCE(*hold))
		kp_veto_wait();
	return 1;
}

static bool kp_veto_hold = true, kp_veto_peek;

static int kp_veto_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", kp_veto_value(&kp_veto_hold));
	return 0;
}

static int kp_veto_state_show(struct seq_file *m, void *v)
{
	seq_printf(m, "value=%d sleepers=%d signalled=%d\n",
		   kp_veto_value(&kp_veto_peek),
		   atomic_read(&kp_veto_sleepers),
		   atomic_read(&kp_veto_signalled));
	return 0;
}

static ssize_t kp_veto_release_write(struct file *file, const char __user *buf,
				     size_t len, loff_t *ppos)
{
	atomic_inc(&kp_veto_gen);
	wake_up_all(&kp_veto_wq);
	return len;
}

static const struct proc_ops kp_veto_release_ops = {
	.proc_write = kp_veto_release_write,
};

static int __init kp_veto_init(void)
{
	if (!proc_create_single("kp_test_veto", 0444, NULL, kp_veto_show) ||
	    !proc_create_single("kp_test_veto_state", 0444, NULL,
				kp_veto_state_show) ||
	    !proc_create("kp_test_veto_release", 0200, NULL,
			 &kp_veto_release_ops)) {
		remove_proc_entry("kp_test_veto_state", NULL);
		remove_proc_entry("kp_test_veto", NULL);
		return -ENOMEM;
	}
	return 0;
}

static void __exit kp_veto_exit(void)
{
	remove_proc_entry("kp_test_veto_release", NULL);
	remove_proc_entry("kp_test_veto_state", NULL);
	remove_proc_entry("kp_test_veto", NULL);
}

module_init(kp_veto_init);
module_exit(kp_veto_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test target: a function a user holds in a killable sleep");
