// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_nmi.ko: NMIs that call two patched functions, so that a test can
 * count the NMIs that ran the old version of one and the new version of the
 * other while a patch of both switched under them (issue 14, item 7).
 *   kp_nmi_f() and kp_nmi_g() return 1; the patch (kp_test_nmi_patch) makes
 *   both return 2.
 *   echo 1 > /sys/kernel/debug/kp_test_nmi/run   start the NMIs (0: stop)
 *   echo 1 > /sys/kernel/debug/kp_test_nmi/hold  the kthread kp_nmi_hold calls
 *     kp_nmi_h() (patched too), which sleeps until "echo 0 > hold", so that
 *     a switch cannot complete at once (pending task, reversals)
 *   cat /sys/kernel/debug/kp_test_nmi/hold       1 while it sleeps in h
 *   cat /sys/kernel/debug/kp_test_nmi/counts
 *     "nmis N stopped S old O new W mixed M": NMIs handled, those that
 *     interrupted a stop_machine stopper (migration/N), and how many saw
 *     f and g both old, both new, or one of each.
 *
 * The NMIs are real (APIC NMI IPIs) and keep themselves going: each handler
 * calls f, relaxes, sends the next NMI to the next online CPU, relaxes again
 * and calls g.  One NMI is in flight at a time, also while the machine is
 * stopped (no kthread or timer could send one then), and the other CPU runs
 * its own handler while this one is between f and g.  cpu_relax() is a
 * PAUSE, on which single-threaded TCG hands the host thread to the other
 * vCPU: the window between f and g spans what the other vCPU does meanwhile.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <asm/apic.h>
#include <asm/nmi.h>
#include "kp_test_nmi.h"

static unsigned int relax = 8;
module_param(relax, uint, 0644);
MODULE_PARM_DESC(relax, "PAUSEs before and after sending the next NMI (between f and g)");

static struct dentry *kp_dir;
static bool kp_running;
static atomic_long_t kp_nmis, kp_stopped, kp_old, kp_new, kp_mixed;
static struct {			/* the last mixed NMI, for the report */
	int cpu, pid, f, g;
	char comm[TASK_COMM_LEN];
} kp_last_mixed;
static struct task_struct *kp_holder;
static DECLARE_WAIT_QUEUE_HEAD(kp_hold_wq);
static bool kp_hold_req, kp_in_h;

/* Sleep until "echo 0 > hold" or module exit (the old and the new h). */
void kp_nmi_sleep(void)
{
	WRITE_ONCE(kp_in_h, true);
	wait_event(kp_hold_wq, !READ_ONCE(kp_hold_req) || kthread_should_stop());
	WRITE_ONCE(kp_in_h, false);
}
EXPORT_SYMBOL_GPL(kp_nmi_sleep);

noinline int kp_nmi_h(void)
{
	kp_nmi_sleep();
	return 1;
}

static int kp_nmi_hold_thread(void *unused)
{
	while (!kthread_should_stop()) {
		wait_event(kp_hold_wq, READ_ONCE(kp_hold_req) || kthread_should_stop());
		if (READ_ONCE(kp_hold_req))
			kp_nmi_h();
	}
	return 0;
}

noinline int kp_nmi_f(void)
{
	return 1;
}

noinline int kp_nmi_g(void)
{
	return 1;
}

/* Our NMIs sent and not handled yet (one, or none once stopped). */
static atomic_t kp_in_flight = ATOMIC_INIT(0);

static void kp_nmi_send_next(void)
{
	unsigned int cpu = cpumask_next(smp_processor_id(), cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	if (cpu == smp_processor_id())
		return;
	atomic_inc(&kp_in_flight);
	apic->send_IPI(cpu, NMI_VECTOR);
}

static void kp_nmi_relax(void)
{
	unsigned int i, n = READ_ONCE(relax);

	for (i = 0; i < n; i++)
		cpu_relax();
}

static int kp_nmi_handler(unsigned int type, struct pt_regs *regs)
{
	int f, g;

	/* Not ours: the kernel's own NMI handling goes on. */
	if (!atomic_add_unless(&kp_in_flight, -1, 0))
		return NMI_DONE;
	if (!READ_ONCE(kp_running))
		return NMI_HANDLED;	/* the last one: the chain ends */
	atomic_long_inc(&kp_nmis);
	if ((current->flags & PF_KTHREAD) &&
	    !strncmp(current->comm, "migration/", 10))
		atomic_long_inc(&kp_stopped);
	f = kp_nmi_f();
	kp_nmi_relax();
	kp_nmi_send_next();
	kp_nmi_relax();
	g = kp_nmi_g();
	if (f == 1 && g == 1) {
		atomic_long_inc(&kp_old);
	} else if (f == 2 && g == 2) {
		atomic_long_inc(&kp_new);
	} else {
		atomic_long_inc(&kp_mixed);
		kp_last_mixed.cpu = smp_processor_id();
		kp_last_mixed.pid = current->pid;
		kp_last_mixed.f = f;
		kp_last_mixed.g = g;
		strscpy(kp_last_mixed.comm, current->comm, TASK_COMM_LEN);
	}
	return NMI_HANDLED;
}

static ssize_t run_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	bool on;
	int ret = kstrtobool_from_user(ubuf, len, &on);

	if (ret)
		return ret;
	if (on && num_online_cpus() < 2)
		return -ENODEV;
	if (on && !READ_ONCE(kp_running)) {
		WRITE_ONCE(kp_running, true);
		preempt_disable();
		kp_nmi_send_next();
		preempt_enable();
	} else if (!on) {
		WRITE_ONCE(kp_running, false);
	}
	return len;
}

static ssize_t counts_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	char buf[256];
	int n = scnprintf(buf, sizeof(buf),
			  "nmis %ld stopped %ld old %ld new %ld mixed %ld",
			  atomic_long_read(&kp_nmis),
			  atomic_long_read(&kp_stopped),
			  atomic_long_read(&kp_old), atomic_long_read(&kp_new),
			  atomic_long_read(&kp_mixed));

	if (atomic_long_read(&kp_mixed))
		n += scnprintf(buf + n, sizeof(buf) - n,
			       " (last: cpu %d pid %d %s f %d g %d)",
			       kp_last_mixed.cpu, kp_last_mixed.pid,
			       kp_last_mixed.comm, kp_last_mixed.f,
			       kp_last_mixed.g);
	n += scnprintf(buf + n, sizeof(buf) - n, "\n");

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static ssize_t hold_write(struct file *file, const char __user *ubuf,
			  size_t len, loff_t *ppos)
{
	bool on;
	int ret = kstrtobool_from_user(ubuf, len, &on);

	if (ret)
		return ret;
	WRITE_ONCE(kp_hold_req, on);
	wake_up_all(&kp_hold_wq);
	return len;
}

static ssize_t hold_read(struct file *file, char __user *ubuf, size_t len,
			 loff_t *ppos)
{
	const char *s = READ_ONCE(kp_in_h) ? "1\n" : "0\n";

	return simple_read_from_buffer(ubuf, len, ppos, s, 2);
}

static const struct file_operations run_fops = { .write = run_write };
static const struct file_operations hold_fops = {
	.write = hold_write,
	.read = hold_read,
};
static const struct file_operations counts_fops = { .read = counts_read };

static int __init kp_nmi_init(void)
{
	int ret;

	kp_holder = kthread_run(kp_nmi_hold_thread, NULL, "kp_nmi_hold");
	if (IS_ERR(kp_holder))
		return PTR_ERR(kp_holder);
	get_task_struct(kp_holder);
	ret = register_nmi_handler(NMI_LOCAL, kp_nmi_handler, 0, "kp_test_nmi");
	if (ret) {
		kthread_stop(kp_holder);
		put_task_struct(kp_holder);
		return ret;
	}
	kp_dir = debugfs_create_dir("kp_test_nmi", NULL);
	debugfs_create_file("run", 0200, kp_dir, NULL, &run_fops);
	debugfs_create_file("counts", 0444, kp_dir, NULL, &counts_fops);
	debugfs_create_file("hold", 0644, kp_dir, NULL, &hold_fops);
	return 0;
}

static void __exit kp_nmi_exit(void)
{
	WRITE_ONCE(kp_running, false);
	debugfs_remove_recursive(kp_dir);
	/* Waits for a handler in progress (synchronize_rcu). */
	unregister_nmi_handler(NMI_LOCAL, "kp_test_nmi");
	WRITE_ONCE(kp_hold_req, false);
	kthread_stop(kp_holder);
	put_task_struct(kp_holder);
}

module_init(kp_nmi_init);
module_exit(kp_nmi_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: NMIs that call two patched functions");
