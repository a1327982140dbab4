// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_mix_a() and kp_mix_b() in kp_test_mix.ko: the new
 * B returns 2, the new A 20 + B, so each value the target records says which
 * versions one call ran (11 old/old, 22 new/new; 12 or 21 would be mixed).
 * KP_B_ONLY=N (test_replace.py): only B, returning N (built as a replace
 * patch: A goes back to the original).
 */
#include "kp_patch.h"
#include "kp_test_mix.h"

#ifdef KP_B_ONLY
static noinline int kp_mix_b_only(void)
{
	return KP_B_ONLY;
}

KP_FUNC("kp_test_mix", "kp_mix_b", 0, KP_OLD_SIZE_B, kp_mix_b_only);
#else

#if !defined(KP_OLD_SIZE_A) || !defined(KP_OLD_SIZE_B)
#error "KP_OLD_SIZE_A and KP_OLD_SIZE_B (sizes of kp_mix_a, kp_mix_b) are required"
#endif

static noinline int kp_mix_b_new(void)
{
	return 2;
}

static noinline int kp_mix_a_new(void)
{
	kp_mix_sleep();
	return 20 + kp_mix_b();
}

KP_FUNC("kp_test_mix", "kp_mix_a", 0, KP_OLD_SIZE_A, kp_mix_a_new);
KP_FUNC("kp_test_mix", "kp_mix_b", 0, KP_OLD_SIZE_B, kp_mix_b_new);
#endif /* KP_B_ONLY */
