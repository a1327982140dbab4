// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_busy.ko: kthreads that sleep inside kp_busy_wait() until released.
 *   echo 1 > /sys/kernel/debug/kp_test_busy/start     start one kthread kp_busy/N
 *   echo 1 > /sys/kernel/debug/kp_test_busy/release   wake every sleeper
 *   cat /sys/kernel/debug/kp_test_busy/last           what kp_busy_wait() returned
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/wait.h>

#define KP_BUSY_MAX 128

static struct dentry *kp_dir;
static DECLARE_WAIT_QUEUE_HEAD(kp_busy_wq);
static atomic_t kp_busy_gen = ATOMIC_INIT(0);
static bool kp_busy_stopping;
static struct task_struct *kp_threads[KP_BUSY_MAX];
static int kp_nr_threads;
static int kp_last = -1;
static DEFINE_MUTEX(kp_busy_lock);

/* Sleep until the next release (used by the original and the patch). */
int kp_busy_sleep(void)
{
	int gen = atomic_read(&kp_busy_gen);

	wait_event_interruptible(kp_busy_wq,
				 atomic_read(&kp_busy_gen) != gen ||
				 READ_ONCE(kp_busy_stopping));
	return 0;
}
EXPORT_SYMBOL_GPL(kp_busy_sleep);

noinline int kp_busy_wait(void)
{
	int ret = kp_busy_sleep();

	pr_info("kp_test_busy: original %s returns\n", __func__);
	return ret + 1;
}

static int kp_busy_thread(void *unused)
{
	WRITE_ONCE(kp_last, kp_busy_wait());
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

static ssize_t start_write(struct file *file, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	struct task_struct *t;
	int ret = len;

	mutex_lock(&kp_busy_lock);
	if (kp_nr_threads >= KP_BUSY_MAX) {
		ret = -ENOSPC;
		goto out;
	}
	t = kthread_run(kp_busy_thread, NULL, "kp_busy/%d", kp_nr_threads);
	if (IS_ERR(t)) {
		ret = PTR_ERR(t);
		goto out;
	}
	get_task_struct(t);
	kp_threads[kp_nr_threads++] = t;
out:
	mutex_unlock(&kp_busy_lock);
	return ret;
}

static ssize_t release_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	atomic_inc(&kp_busy_gen);
	wake_up_all(&kp_busy_wq);
	return len;
}

static ssize_t last_read(struct file *file, char __user *ubuf, size_t len,
			 loff_t *ppos)
{
	char buf[32];
	int n = scnprintf(buf, sizeof(buf), "%d\n", READ_ONCE(kp_last));

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations start_fops = {
	.write = start_write,
};

static const struct file_operations release_fops = {
	.write = release_write,
};

static const struct file_operations last_fops = {
	.read = last_read,
	.llseek = default_llseek,
};

static int __init kp_busy_init(void)
{
	kp_dir = debugfs_create_dir("kp_test_busy", NULL);
	debugfs_create_file("start", 0200, kp_dir, NULL, &start_fops);
	debugfs_create_file("release", 0200, kp_dir, NULL, &release_fops);
	debugfs_create_file("last", 0444, kp_dir, NULL, &last_fops);
	return 0;
}

static void __exit kp_busy_exit(void)
{
	int i;

	debugfs_remove_recursive(kp_dir);
	WRITE_ONCE(kp_busy_stopping, true);
	wake_up_all(&kp_busy_wq);
	for (i = 0; i < kp_nr_threads; i++) {
		kthread_stop(kp_threads[i]);
		put_task_struct(kp_threads[i]);
	}
}

module_init(kp_busy_init);
module_exit(kp_busy_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: kthreads sleeping inside a patched function");
