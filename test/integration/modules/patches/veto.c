// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_veto_value() in kp_test_veto.ko: the same
 * killable sleep, returning 2.  KP_REVERSE_REC: the patch's kp_policy record
 * asks for the reversal of an enable that outlives its timeout
 * (KP_ON_TIMEOUT), instead of the pending transition by default.
 */
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_veto_value) is required"
#endif

int kp_veto_wait(void);

static noinline int kp_veto_value_new(const bool *hold)
{
	if (READ_ONCE(*hold))
		kp_veto_wait();
	return 2;
}

KP_FUNC("kp_test_veto", "kp_veto_value", 0, KP_OLD_SIZE, kp_veto_value_new);

#ifdef KP_REVERSE_REC
KP_ON_TIMEOUT(KP_ON_TIMEOUT_REVERSE);
#endif
