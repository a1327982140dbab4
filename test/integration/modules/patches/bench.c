// SPDX-License-Identifier: GPL-2.0
/* Hand-written kp patch of kp_bench_fn() in kp_bench_target.ko (for bench). */
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_bench_fn) is required"
#endif

static long kp_bench_fn_new(long x)
{
	return x * 3 + 2;
}

KP_FUNC("kp_bench_target", "kp_bench_fn", 0, KP_OLD_SIZE, kp_bench_fn_new);
