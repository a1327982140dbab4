// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_nmi_f() and kp_nmi_g() in kp_test_nmi.ko: both
 * return 2 instead of 1, so an NMI that calls f then g sees 1/1 before the
 * switch, 2/2 after, and never 1/2 or 2/1.  kp_nmi_h(), where a kthread can
 * sleep, is replaced too, so that a switch can be held.
 */
#include "kp_patch.h"
#include "kp_test_nmi.h"

#if !defined(KP_OLD_SIZE_F) || !defined(KP_OLD_SIZE_G) || !defined(KP_OLD_SIZE_H)
#error "KP_OLD_SIZE_F, _G and _H (sizes of kp_nmi_f, _g and _h) are required"
#endif

static noinline int kp_nmi_f_new(void)
{
	return 2;
}

static noinline int kp_nmi_g_new(void)
{
	return 2;
}

static noinline int kp_nmi_h_new(void)
{
	kp_nmi_sleep();
	return 2;
}

KP_FUNC("kp_test_nmi", "kp_nmi_f", 0, KP_OLD_SIZE_F, kp_nmi_f_new);
KP_FUNC("kp_test_nmi", "kp_nmi_g", 0, KP_OLD_SIZE_G, kp_nmi_g_new);
KP_FUNC("kp_test_nmi", "kp_nmi_h", 0, KP_OLD_SIZE_H, kp_nmi_h_new);
