/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kp-value.h - opt-in transfer of a changed global's initial value.  kp-build
 * copies this header next to every source file a patch changes, so a patched
 * file writes:
 *
 *	#include "kp-value.h"
 *
 *	int overflowuid = DEFAULT_OVERFLOWUID - 1;
 *	KP_TRANSFER_VALUE(overflowuid);
 *
 * diffgen refuses a changed initial value of an existing global unless the
 * variable is marked this way in the file that defines it.  For a marked
 * variable the patch refers to the live variable (it gets no copy), and the
 * core writes the new initial value into it when the transition to the
 * patch completes (every task runs the new code) and writes the old one back
 * when the patch's disable starts.  The write happens only if the live value
 * still equals the value it replaces: a value changed at run time (a sysctl)
 * is kept and the log says so.  docs/patch-authors-guide.md has the rules.
 *
 * Only plain writable data of at most KP_VALUE_MAX (64) bytes holding no
 * address: not const, __ro_after_init, per-cpu, __init or thread-local.
 */
#ifndef KP_VALUE_H
#define KP_VALUE_H

#include <linux/compiler.h>
#include "kp-abi.h"	/* KP_VALUE_MAX; kp-build puts it beside this file */

/* A marker diffgen reads from the patched object and never carries. */
#define KP_TRANSFER_VALUE(var)						\
	_Static_assert(sizeof(var) <= KP_VALUE_MAX,			\
		       "KP_TRANSFER_VALUE(" #var "): more than 64 bytes");	\
	static const void *__UNIQUE_ID(kp_transfer_value) __used	\
	__section(".discard.kp.transfer_value") = &(var)

#endif /* KP_VALUE_H */
