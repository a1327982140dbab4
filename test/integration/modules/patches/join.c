// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_mix_a() in kp_test_mix.ko (so a kthread can hold
 * its transition) and of kp_target_value() in kp_test_target.ko (a module that
 * a test loads while the transition is in progress): the new kp_target_value
 * returns 42.
 */
#include "kp_patch.h"
#include "kp_test_mix.h"

#if !defined(KP_OLD_SIZE_A) || !defined(KP_OLD_SIZE_T)
#error "KP_OLD_SIZE_A and KP_OLD_SIZE_T (sizes of kp_mix_a, kp_target_value) are required"
#endif

static noinline int kp_mix_a_new(void)
{
	kp_mix_sleep();
	return 20 + kp_mix_b();
}

static noinline int kp_target_value_new(void)
{
	return 42;
}

KP_FUNC("kp_test_mix", "kp_mix_a", 0, KP_OLD_SIZE_A, kp_mix_a_new);
KP_FUNC("kp_test_target", "kp_target_value", 0, KP_OLD_SIZE_T, kp_target_value_new);
