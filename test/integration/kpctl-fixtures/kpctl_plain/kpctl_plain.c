// SPDX-License-Identifier: GPL-2.0
/* kpctl_plain: a module that is not a kp patch (no kp_patch record, no kp_* modinfo). */
#include <linux/module.h>

static int __init plain_init(void)
{
	return 0;
}

static void __exit plain_exit(void)
{
}

module_init(plain_init);
module_exit(plain_exit);
MODULE_DESCRIPTION("kpctl test fixture: not a kp patch");
MODULE_LICENSE("GPL");
