// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_bench_sleep() in kp_bench_target.ko: the same
 * sleep, returning 2.  Loaded while hundreds of threads sleep inside the old
 * version (test_consistency.py, scripts/bench-kmod.sh).
 */
#include <linux/delay.h>
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_bench_sleep) is required"
#endif

static noinline int kp_bench_sleep_new(void)
{
	usleep_range(400, 600);
	return 2;
}

KP_FUNC("kp_bench_target", "kp_bench_sleep", 0, KP_OLD_SIZE, kp_bench_sleep_new);
