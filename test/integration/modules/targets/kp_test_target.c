// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_target.ko: a module target for kp tests.  Reading
 * /sys/kernel/debug/kp_test_target/value calls kp_target_value() and prints
 * its result (1 unpatched).  kp_target_secret() is a local function a patch
 * reaches only through a kp_relocs record.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>

static struct dentry *kp_dir;

static noinline __used int kp_target_secret(void)
{
	return 40;
}

noinline int kp_target_value(void)
{
	return 1;
}

static ssize_t value_read(struct file *file, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	char buf[32];
	int n;

	n = scnprintf(buf, sizeof(buf), "%d\n", kp_target_value());
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations value_fops = {
	.read = value_read,
	.llseek = default_llseek,
};

static int __init kp_target_init(void)
{
	kp_dir = debugfs_create_dir("kp_test_target", NULL);
	debugfs_create_file("value", 0444, kp_dir, NULL, &value_fops);
	pr_info("kp_test_target: loaded, secret %d\n", kp_target_secret());
	return 0;
}

static void __exit kp_target_exit(void)
{
	debugfs_remove_recursive(kp_dir);
}

module_init(kp_target_init);
module_exit(kp_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: module target");
