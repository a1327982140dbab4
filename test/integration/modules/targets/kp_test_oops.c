// SPDX-License-Identifier: GPL-2.0
/*
 * A fault in code no patch replaces (test_probation.py): reading
 * /proc/kp_test_oops dereferences NULL, so the reader oopses in this
 * module's code while a patch is on probation.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int *kp_oops_ptr;	/* stays NULL */

static int kp_oops_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", READ_ONCE(*READ_ONCE(kp_oops_ptr)));
	return 0;
}

static int __init kp_oops_init(void)
{
	return proc_create_single("kp_test_oops", 0444, NULL, kp_oops_show) ?
		0 : -ENOMEM;
}

static void __exit kp_oops_exit(void)
{
	remove_proc_entry("kp_test_oops", NULL);
}

module_init(kp_oops_init);
module_exit(kp_oops_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: an oops in unpatched code");
