// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_busy_wait() in kp_test_busy.ko.  The new version
 * also sleeps (in kp_busy_sleep, exported by the target) so a test can hold a
 * task inside it while disabling.
 */
#include <linux/printk.h>
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_busy_wait) is required"
#endif

int kp_busy_sleep(void);

static noinline int kp_busy_wait_new(void)
{
	int ret = kp_busy_sleep();

	pr_info("kp_test_busy: patched kp_busy_wait returns\n");
	return ret + 100;
}

KP_FUNC("kp_test_busy", "kp_busy_wait", 0, KP_OLD_SIZE, kp_busy_wait_new);
