// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_lock.ko: a kthread bound to CPU cpu (default 1) takes the exported
 * spinlock kp_test_lock every 10 ms, so that a task that dies holding it (a
 * patch that oopses under it) leaves that CPU spinning with preemption off:
 * it cannot reach its stopper (issue 25, item 1).
 *   cat /sys/kernel/debug/kp_test_lock/rounds   times the kthread took it
 *   cat /sys/kernel/debug/kp_test_lock/value    what kp_lock_value() returns
 *                                               (a function to patch)
 *   echo 1 > /sys/kernel/debug/kp_test_lock/release
 *                                               unlock what a dead task left
 *                                               held (a test's way out)
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/spinlock.h>

static unsigned int cpu = 1;
module_param(cpu, uint, 0444);
MODULE_PARM_DESC(cpu, "the CPU the kthread is bound to");

DEFINE_SPINLOCK(kp_test_lock);
EXPORT_SYMBOL_GPL(kp_test_lock);

static struct task_struct *kp_thread;
static struct dentry *kp_dir;
static unsigned long kp_rounds;

static int kp_lock_thread(void *unused)
{
	while (!kthread_should_stop()) {
		spin_lock(&kp_test_lock);
		WRITE_ONCE(kp_rounds, kp_rounds + 1);
		spin_unlock(&kp_test_lock);
		usleep_range(10000, 11000);
	}
	return 0;
}

noinline int kp_lock_value(void)
{
	return 7;
}

static ssize_t value_read(struct file *file, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	char buf[32];
	int n = scnprintf(buf, sizeof(buf), "%d\n", kp_lock_value());

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static ssize_t release_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	/* Held (by a task that died): unlock as its holder would have. */
	if (spin_trylock(&kp_test_lock)) {
		spin_unlock(&kp_test_lock);
		return len;
	}
	preempt_disable();	/* what spin_unlock() enables again */
	spin_unlock(&kp_test_lock);
	return len;
}

static ssize_t rounds_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	char buf[32];
	int n = scnprintf(buf, sizeof(buf), "%lu\n", READ_ONCE(kp_rounds));

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations value_fops = {
	.read = value_read,
	.llseek = default_llseek,
};

static const struct file_operations release_fops = {
	.write = release_write,
};

static const struct file_operations rounds_fops = {
	.read = rounds_read,
	.llseek = default_llseek,
};

static int __init kp_lock_init(void)
{
	if (!cpu_online(cpu))
		return -ENODEV;
	kp_thread = kthread_create(kp_lock_thread, NULL, "kp_lock/%u", cpu);
	if (IS_ERR(kp_thread))
		return PTR_ERR(kp_thread);
	kthread_bind(kp_thread, cpu);
	wake_up_process(kp_thread);
	kp_dir = debugfs_create_dir("kp_test_lock", NULL);
	debugfs_create_file("release", 0200, kp_dir, NULL, &release_fops);
	debugfs_create_file("rounds", 0444, kp_dir, NULL, &rounds_fops);
	debugfs_create_file("value", 0444, kp_dir, NULL, &value_fops);
	return 0;
}

static void __exit kp_lock_exit(void)
{
	debugfs_remove_recursive(kp_dir);
	kthread_stop(kp_thread);
}

module_init(kp_lock_init);
module_exit(kp_lock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: a kthread on one CPU that takes an exported spinlock every 10 ms");
