// SPDX-License-Identifier: GPL-2.0
/*
 * kp_bench_target.ko: times calls of kp_bench_fn().
 *   echo N > /sys/kernel/debug/kp_bench_target/run   call it N times
 *   cat /sys/kernel/debug/kp_bench_target/result     "calls ns_total ps_per_call sum"
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/uaccess.h>

static struct dentry *kp_dir;
static u64 kp_calls, kp_ns;
static long kp_sum;

noinline long kp_bench_fn(long x)
{
	return x * 3 + 1;
}

static ssize_t run_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	unsigned long n, i;
	long sum = 0;
	u64 t0;
	int ret;

	ret = kstrtoul_from_user(ubuf, len, 10, &n);
	if (ret)
		return ret;
	preempt_disable();
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		sum += kp_bench_fn(i);
	kp_ns = ktime_get_ns() - t0;
	preempt_enable();
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
