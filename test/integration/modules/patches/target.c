// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_target_value() in the module kp_test_target.
 * The replacement returns kp_target_secret() + 2 (42): kp_target_secret is a
 * local function of the target, reached through a kp_relocs record that the
 * core applies (with text_poke, into read-only data) when the target is
 * present.
 */
#include <linux/elf.h>
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_target_value) is required"
#endif

static const volatile unsigned long kp_secret_addr;

static int kp_target_value_new(void)
{
	int (*secret)(void) = (int (*)(void))kp_secret_addr;

	return secret() + 2;
}

KP_FUNC("kp_test_target", "kp_target_value", 0, KP_OLD_SIZE,
	kp_target_value_new);
KP_RELOC(&kp_secret_addr, "kp_test_target", "kp_target_secret", 0, 0,
	 R_X86_64_64);
