// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_mix.ko: one kthread, kp_mix, that calls two functions on command and
 * records what each call saw, so a test can check that a task never mixes the
 * old and new versions of a patch during a transition.
 *   kp_mix_b() returns 1; kp_mix_a() sleeps until released, then returns
 *   10 + kp_mix_b().  The patch (kp_test_mix_patch) returns 2 and 20 + B.
 *   echo a > /sys/kernel/debug/kp_test_mix/cmd   kp_mix calls kp_mix_a
 *   echo b > /sys/kernel/debug/kp_test_mix/cmd   kp_mix calls kp_mix_b
 *   echo 1 > /sys/kernel/debug/kp_test_mix/release  wake kp_mix_a
 *   cat /sys/kernel/debug/kp_test_mix/state   idle | in-a | busy
 *   cat /sys/kernel/debug/kp_test_mix/log     "a=11 b=2 ..." (kp_mix's calls)
 *   cat /sys/kernel/debug/kp_test_mix/call_b  the reading task calls kp_mix_b
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include "kp_test_mix.h"

#define KP_MIX_LOG 512

static struct dentry *kp_dir;
static struct task_struct *kp_thread;
static DECLARE_WAIT_QUEUE_HEAD(kp_cmd_wq);
static DECLARE_WAIT_QUEUE_HEAD(kp_release_wq);
static atomic_t kp_release_gen = ATOMIC_INIT(0);
static int kp_cmd;
static bool kp_in_a;
static DEFINE_MUTEX(kp_log_lock);
static char kp_log[KP_MIX_LOG];
static size_t kp_log_len;

/* Sleep until the next release or module exit (used by old and new A). */
void kp_mix_sleep(void)
{
	int gen = atomic_read(&kp_release_gen);

	WRITE_ONCE(kp_in_a, true);
	wait_event(kp_release_wq, atomic_read(&kp_release_gen) != gen ||
		   kthread_should_stop());
	WRITE_ONCE(kp_in_a, false);
}
EXPORT_SYMBOL_GPL(kp_mix_sleep);

noinline int kp_mix_b(void)
{
	return 1;
}
EXPORT_SYMBOL_GPL(kp_mix_b);

noinline int kp_mix_a(void)
{
	kp_mix_sleep();
	return 10 + kp_mix_b();
}

static void kp_mix_record(char which, int val)
{
	mutex_lock(&kp_log_lock);
	kp_log_len += scnprintf(kp_log + kp_log_len, KP_MIX_LOG - kp_log_len,
				"%s%c=%d", kp_log_len ? " " : "", which, val);
	mutex_unlock(&kp_log_lock);
}

static int kp_mix_thread(void *unused)
{
	while (!kthread_should_stop()) {
		int cmd;

		wait_event(kp_cmd_wq, READ_ONCE(kp_cmd) || kthread_should_stop());
		cmd = xchg(&kp_cmd, 0);
		if (cmd == 'a')
			kp_mix_record('a', kp_mix_a());
		else if (cmd == 'b')
			kp_mix_record('b', kp_mix_b());
	}
	return 0;
}

static ssize_t cmd_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	char c;

	if (!len || get_user(c, ubuf))
		return -EINVAL;
	if (c != 'a' && c != 'b')
		return -EINVAL;
	if (cmpxchg(&kp_cmd, 0, c))
		return -EBUSY;
	wake_up(&kp_cmd_wq);
	return len;
}

static ssize_t release_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	atomic_inc(&kp_release_gen);
	wake_up_all(&kp_release_wq);
	return len;
}

static ssize_t state_read(struct file *file, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	const char *s = READ_ONCE(kp_in_a) ? "in-a\n" :
			READ_ONCE(kp_cmd) ? "busy\n" : "idle\n";

	return simple_read_from_buffer(ubuf, len, ppos, s, strlen(s));
}

static ssize_t log_read(struct file *file, char __user *ubuf, size_t len,
			loff_t *ppos)
{
	char buf[KP_MIX_LOG + 1];
	size_t n;

	mutex_lock(&kp_log_lock);
	n = scnprintf(buf, sizeof(buf), "%s\n", kp_log);
	mutex_unlock(&kp_log_lock);
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static ssize_t call_b_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	char buf[16];
	int n = scnprintf(buf, sizeof(buf), "%d\n", kp_mix_b());

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations cmd_fops = { .write = cmd_write };
static const struct file_operations release_fops = { .write = release_write };
static const struct file_operations state_fops = { .read = state_read };
static const struct file_operations log_fops = { .read = log_read };
static const struct file_operations call_b_fops = { .read = call_b_read };

static int __init kp_mix_init(void)
{
	kp_thread = kthread_run(kp_mix_thread, NULL, "kp_mix");
	if (IS_ERR(kp_thread))
		return PTR_ERR(kp_thread);
	get_task_struct(kp_thread);
	kp_dir = debugfs_create_dir("kp_test_mix", NULL);
	debugfs_create_file("cmd", 0200, kp_dir, NULL, &cmd_fops);
	debugfs_create_file("release", 0200, kp_dir, NULL, &release_fops);
	debugfs_create_file("state", 0444, kp_dir, NULL, &state_fops);
	debugfs_create_file("log", 0444, kp_dir, NULL, &log_fops);
	debugfs_create_file("call_b", 0444, kp_dir, NULL, &call_b_fops);
	return 0;
}

static void __exit kp_mix_exit(void)
{
	debugfs_remove_recursive(kp_dir);
	kthread_stop(kp_thread);
	put_task_struct(kp_thread);
}

module_init(kp_mix_init);
module_exit(kp_mix_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: a task inside a patched function calling another");
