/* SPDX-License-Identifier: GPL-2.0 */
/*
 * params.h - module parameter types the core's files share (params.c).
 */
#ifndef KP_PARAMS_H
#define KP_PARAMS_H

#include <linux/moduleparam.h>

/* An unsigned int for which 0 means nothing sensible: refused. */
extern const struct kernel_param_ops kp_param_nonzero;

/*
 * Fault injection, in a test build only (make -C kmod core-fi: -DKP_FAULT_INJECT,
 * build/kmod/core-fi/kp_core.ko): fi_work_delay_ms delays the transition
 * work before it takes kp_mutex, as a busy machine can (issue 25, item 3);
 * fi_overflow makes that many full passes find more tasks than their table
 * holds, as tasks forking faster than the table grows do: after three, the
 * transition cannot start (-EAGAIN; issue 25, item 8).  The test kernel has
 * no CONFIG_FAILSLAB.
 */
#ifdef KP_FAULT_INJECT
void kp_fault_inject_work_delay(void);
bool kp_fault_inject_overflow(void);
#else
static inline void kp_fault_inject_work_delay(void)
{
}

static inline bool kp_fault_inject_overflow(void)
{
	return false;
}
#endif

#endif /* KP_PARAMS_H */
