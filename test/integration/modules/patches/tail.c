// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_busy_wait() in kp_test_busy.ko whose sleeping
 * code lies in the patch module outside the replacement's own symbol, where
 * only a stack check of the whole module text sees it (issue 14, item 2):
 *   default   the replacement tail-calls a helper that sleeps (no record of
 *             its own; the replacement is not on the sleeper's stack)
 *   KP_COLD   the replacement sleeps in its .cold part (gcc moves the
 *             unlikely branch that calls __cold printk out of line)
 */
#include <linux/compiler.h>
#include <linux/printk.h>
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_busy_wait) is required"
#endif

int kp_busy_sleep(void);

#ifdef KP_COLD
static int kp_cold_path = 1;

static noinline int kp_busy_wait_cold(void)
{
	if (unlikely(READ_ONCE(kp_cold_path))) {
		pr_warn("kp_test_busy: cold path of the replacement\n");
		kp_busy_sleep();
		pr_warn("kp_test_busy: cold path returns\n");
		return 300;
	}
	return 0;
}

KP_FUNC("kp_test_busy", "kp_busy_wait", 0, KP_OLD_SIZE, kp_busy_wait_cold);
#else
static noinline int kp_busy_tail_helper(void)
{
	int ret = kp_busy_sleep();

	pr_info("kp_test_busy: tail helper returns\n");
	return ret + 200;
}

static noinline int kp_busy_wait_tail(void)
{
	return kp_busy_tail_helper();
}

KP_FUNC("kp_test_busy", "kp_busy_wait", 0, KP_OLD_SIZE, kp_busy_wait_tail);
#endif
