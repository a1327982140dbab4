// SPDX-License-Identifier: GPL-2.0
/*
 * kp_oops: a module that oopses on purpose (NULL write in its init), to prove that
 * the VM harness notices a kernel crash and fails the run.
 */
#include <linux/module.h>

static int *kp_oops_target;

static int __init kp_oops_init(void)
{
	pr_info("kp_oops: about to write through a NULL pointer\n");
	WRITE_ONCE(*kp_oops_target, 1);
	return 0;
}

module_init(kp_oops_init);
MODULE_DESCRIPTION("kp VM harness crash-detection module");
MODULE_LICENSE("GPL");
