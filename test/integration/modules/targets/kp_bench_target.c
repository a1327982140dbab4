// SPDX-License-Identifier: GPL-2.0
/*
 * kp_bench_target.ko: times calls of three identical functions, so one VM run
 * can patch one with kp and another with livepatch and time them in turn.
 *   echo "F N" > /sys/kernel/debug/kp_bench_target/run   call function F N times
 *       (F: 0 kp_bench_plain, 1 kp_bench_fn, 2 kp_bench_klp_fn)
 *   cat /sys/kernel/debug/kp_bench_target/result     "calls ns_total ps_per_call sum"
 *   cat /sys/kernel/debug/kp_bench_target/sleep      the reader sleeps ~0.5 ms in
 *       kp_bench_sleep() and gets its value (1; 2 once patched): a syscall path
 *       many threads can loop through while a patch of it switches
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/uaccess.h>

static struct dentry *kp_dir;
static u64 kp_calls, kp_ns;
static long kp_sum;

noinline long kp_bench_plain(long x)
{
	return x * 3 + 1;
}

noinline long kp_bench_fn(long x)
{
	return x * 3 + 1;
}

noinline long kp_bench_klp_fn(long x)
{
	return x * 3 + 1;
}

noinline int kp_bench_sleep(void)
{
	usleep_range(400, 600);
	return 1;
}

static const char * const kp_bench_fns[] = {
	"kp_bench_plain", "kp_bench_fn", "kp_bench_klp_fn",
};

static ssize_t run_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	unsigned long n, i, flags;
	unsigned int f;
	char buf[48];
	long sum = 0;
	u64 t0;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%u %lu", &f, &n) != 2 || f >= ARRAY_SIZE(kp_bench_fns))
		return -EINVAL;

	local_irq_save(flags);
	t0 = ktime_get_ns();
	switch (f) {	/* direct calls, as callers of a patched function make */
	case 0:
		for (i = 0; i < n; i++)
			sum += kp_bench_plain(i);
		break;
	case 1:
		for (i = 0; i < n; i++)
			sum += kp_bench_fn(i);
		break;
	default:
		for (i = 0; i < n; i++)
			sum += kp_bench_klp_fn(i);
		break;
	}
	kp_ns = ktime_get_ns() - t0;
	local_irq_restore(flags);
	kp_calls = n;
	kp_sum = sum;
	return len;
}

static ssize_t result_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	char buf[96];
	int n;

	n = scnprintf(buf, sizeof(buf), "%llu %llu %llu %ld\n", kp_calls, kp_ns,
		      kp_calls ? div64_u64(kp_ns * 1000, kp_calls) : 0, kp_sum);
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static ssize_t sleep_read(struct file *file, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	char buf[16];
	int n = scnprintf(buf, sizeof(buf), "%d\n", kp_bench_sleep());

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations sleep_fops = {
	.read = sleep_read,
};

static const struct file_operations run_fops = {
	.write = run_write,
};

static const struct file_operations result_fops = {
	.read = result_read,
	.llseek = default_llseek,
};

static int __init kp_bench_init(void)
{
	kp_dir = debugfs_create_dir("kp_bench_target", NULL);
	debugfs_create_file("run", 0200, kp_dir, NULL, &run_fops);
	debugfs_create_file("result", 0444, kp_dir, NULL, &result_fops);
	debugfs_create_file("sleep", 0444, kp_dir, NULL, &sleep_fops);
	return 0;
}

static void __exit kp_bench_exit(void)
{
	debugfs_remove_recursive(kp_dir);
}

module_init(kp_bench_init);
module_exit(kp_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp bench: call cost of a (patched) function");
