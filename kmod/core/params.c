// SPDX-License-Identifier: GPL-2.0
/*
 * params.c - module parameter types the core's files share.
 */

#include <linux/delay.h>
#include <linux/kernel.h>
#include "params.h"

static int kp_param_set_nonzero(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (!n)
		return -EINVAL;
	*(unsigned int *)kp->arg = n;
	return 0;
}

const struct kernel_param_ops kp_param_nonzero = {
	.set = kp_param_set_nonzero,
	.get = param_get_uint,
};

#ifdef KP_FAULT_INJECT
static unsigned int fi_work_delay_ms;
module_param(fi_work_delay_ms, uint, 0644);
MODULE_PARM_DESC(fi_work_delay_ms, "test build: milliseconds the transition work sleeps before it takes kp_mutex");

void kp_fault_inject_work_delay(void)
{
	unsigned int ms = READ_ONCE(fi_work_delay_ms);

	if (ms)
		msleep(ms);
}

static atomic_t fi_overflow = ATOMIC_INIT(0);
module_param_cb(fi_overflow, &param_ops_int, &fi_overflow.counter, 0644);
MODULE_PARM_DESC(fi_overflow, "test build: the next N full passes find their table too small");

/* Inside stop_machine: should this full pass overflow? */
bool kp_fault_inject_overflow(void)
{
	return atomic_dec_if_positive(&fi_overflow) >= 0;
}
#endif
