/* SPDX-License-Identifier: GPL-2.0 */
/*
 * params.h - module parameter types the core's files share (params.c).
 */
#ifndef KP_PARAMS_H
#define KP_PARAMS_H

#include <linux/kobject.h>
#include <linux/moduleparam.h>

/* An unsigned int for which 0 means nothing sensible: refused. */
extern const struct kernel_param_ops kp_param_nonzero;

/*
 * Fault injection, in a test build only (make -C kmod core-fi: -DKP_FAULT_INJECT,
 * build/kmod/core-fi/kp_core.ko): fi_work_delay_ms delays the transition
 * work before it takes kp_mutex, as a busy machine can (issue 25, item 3);
 * fi_overflow makes that many full passes find more tasks than their table
 * holds, as tasks forking faster than the table grows do: after three, the
 * transition cannot start (-EAGAIN; issue 25, item 8); fi_nomem makes that
 * many allocations of the code ranges a transition checks fail (-ENOMEM),
 * as failslab would: the test kernel has no CONFIG_FAILSLAB;
 * fi_kobj_release_ms delays the last put of a patch's object and function
 * kobjects, as CONFIG_DEBUG_KOBJECT_RELEASE (not in the test kernel) delays
 * their release; fi_ranges (read, root) lists the ranges installed for the
 * self-switch (issue 25, item 11); fi_idle_pending makes every full pass
 * leave the online CPUs' idle tasks pending, as a patch of a function they
 * sleep in would, for the task pass to switch them from their CPU's stopper
 * (issue 28, item 2).
 */
#ifdef KP_FAULT_INJECT
void kp_fault_inject_work_delay(void);
bool kp_fault_inject_overflow(void);
bool kp_fault_inject_nomem(void);
bool kp_fault_inject_idle_pending(void);
void kp_fault_inject_put(struct kobject *kobj);
void kp_fault_inject_exit(void);
#else
static inline void kp_fault_inject_work_delay(void)
{
}

static inline bool kp_fault_inject_overflow(void)
{
	return false;
}

static inline bool kp_fault_inject_nomem(void)
{
	return false;
}

static inline bool kp_fault_inject_idle_pending(void)
{
	return false;
}

static inline void kp_fault_inject_put(struct kobject *kobj)
{
	kobject_put(kobj);
}

static inline void kp_fault_inject_exit(void)
{
}
#endif

#endif /* KP_PARAMS_H */
