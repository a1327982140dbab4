// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_dup.ko, second file: the kp_dup() test_sympos.py patches (built with
 * -DKP_PATCHED it returns ten times more).
 *   cat /sys/kernel/debug/kp_test_dup   "a=1 b=2": both files' kp_dup()
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/seq_file.h>

int kp_dup_one(void);

static int kp_dup_b_val = 2;

static noinline int kp_dup(void)
{
#ifdef KP_PATCHED
	return READ_ONCE(kp_dup_b_val) * 10;
#else
	return READ_ONCE(kp_dup_b_val);
#endif
}

static int kp_dup_show(struct seq_file *m, void *v)
{
	seq_printf(m, "a=%d b=%d\n", kp_dup_one(), kp_dup());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kp_dup);

static struct dentry *kp_dup_file;

static int __init kp_dup_init(void)
{
	kp_dup_file = debugfs_create_file("kp_test_dup", 0444, NULL, NULL,
					  &kp_dup_fops);
	return 0;
}

static void __exit kp_dup_exit(void)
{
	debugfs_remove(kp_dup_file);
}

module_init(kp_dup_init);
module_exit(kp_dup_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test target: one local name in two files");
