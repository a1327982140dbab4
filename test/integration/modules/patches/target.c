// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_target_value() in the module kp_test_target.
 * The replacement returns kp_target_secret() + 2 (42): kp_target_secret is a
 * local function of the target, reached through a kp_relocs record that the
 * core applies (with text_poke, into read-only data) when the target is
 * present.
 */
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/elf.h>
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_target_value) is required"
#endif

/* Read-only once the patch module is initialised: written with text_poke. */
static int (*kp_secret)(void) __ro_after_init;

static int kp_target_value_new(void)
{
	return READ_ONCE(kp_secret)() + 2;
}

KP_FUNC("kp_test_target", "kp_target_value", 0, KP_OLD_SIZE,
	kp_target_value_new);
KP_RELOC(&kp_secret, "kp_test_target", "kp_target_secret", 0, 0,
	 R_X86_64_64);
