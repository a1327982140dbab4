// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_nmi_f() and kp_nmi_g() in kp_test_nmi.ko: both
 * return 2 instead of 1, so an NMI that calls f then g sees 1/1 before the
 * switch, 2/2 after, and never 1/2 or 2/1.
 */
#include "kp_patch.h"

#if !defined(KP_OLD_SIZE_F) || !defined(KP_OLD_SIZE_G)
#error "KP_OLD_SIZE_F and KP_OLD_SIZE_G (sizes of kp_nmi_f, kp_nmi_g) are required"
#endif

static noinline int kp_nmi_f_new(void)
{
	return 2;
}

static noinline int kp_nmi_g_new(void)
{
	return 2;
}

KP_FUNC("kp_test_nmi", "kp_nmi_f", 0, KP_OLD_SIZE_F, kp_nmi_f_new);
KP_FUNC("kp_test_nmi", "kp_nmi_g", 0, KP_OLD_SIZE_G, kp_nmi_g_new);
