// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of kp_lock_value() in kp_test_lock.ko whose
 * replacement dereferences NULL: a second patch on probation, in a module,
 * for test_rollback_stuck.py.
 */
#include <linux/compiler.h>
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of kp_lock_value) is required"
#endif

static int *kp_null_ptr;	/* stays NULL */

static int kp_lock_value_new(void)
{
	return READ_ONCE(*READ_ONCE(kp_null_ptr));
}

KP_FUNC("kp_test_lock", "kp_lock_value", 0, KP_OLD_SIZE, kp_lock_value_new);
