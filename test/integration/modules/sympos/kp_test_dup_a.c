// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_dup.ko, first file: its static kp_dup() comes first in the symbol
 * table (this file is linked first) but second in address order: it is in a
 * section of its own, which the linker places after .text, where the other
 * file's kp_dup() is.  The core counts sympos in address order.
 */
#include <linux/compiler.h>

int kp_dup_one(void);

static int kp_dup_a_val = 1;

static noinline __section(".text.kp_late") int kp_dup(void)
{
	return READ_ONCE(kp_dup_a_val);
}

int kp_dup_one(void)
{
	return kp_dup();
}
