// SPDX-License-Identifier: GPL-2.0
/*
 * params.c - module parameter types the core's files share.
 */

#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "core.h"
#include "params.h"
#include "stack.h"

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

static atomic_t fi_nomem = ATOMIC_INIT(0);
module_param_cb(fi_nomem, &param_ops_int, &fi_nomem.counter, 0644);
MODULE_PARM_DESC(fi_nomem, "test build: the next N allocations of a transition's code ranges fail");

bool kp_fault_inject_nomem(void)
{
	return atomic_dec_if_positive(&fi_nomem) >= 0;
}

static bool fi_idle_pending;
module_param(fi_idle_pending, bool, 0644);
MODULE_PARM_DESC(fi_idle_pending, "test build: full passes leave the online CPUs' idle tasks pending");

bool kp_fault_inject_idle_pending(void)
{
	return READ_ONCE(fi_idle_pending);
}

static unsigned int fi_kobj_release_ms;
module_param(fi_kobj_release_ms, uint, 0644);
MODULE_PARM_DESC(fi_kobj_release_ms, "test build: milliseconds the last put of a patch's object and function kobjects waits");

struct kp_fi_put {
	struct delayed_work dw;
	struct kobject *kobj;
};

static atomic_t fi_puts = ATOMIC_INIT(0);

static void kp_fi_put_fn(struct work_struct *work)
{
	struct kp_fi_put *p = container_of(to_delayed_work(work),
					   struct kp_fi_put, dw);

	kobject_put(p->kobj);
	kfree(p);
	atomic_dec(&fi_puts);
}

/* The last put of a child kobject, later when fi_kobj_release_ms says so. */
void kp_fault_inject_put(struct kobject *kobj)
{
	unsigned int ms = READ_ONCE(fi_kobj_release_ms);
	struct kp_fi_put *p = ms ? kzalloc(sizeof(*p), GFP_KERNEL) : NULL;

	if (!p) {
		kobject_put(kobj);
		return;
	}
	p->kobj = kobj;
	INIT_DELAYED_WORK(&p->dw, kp_fi_put_fn);
	atomic_inc(&fi_puts);
	schedule_delayed_work(&p->dw, msecs_to_jiffies(ms));
}

/* Module exit: the delayed puts run this module's code. */
void kp_fault_inject_exit(void)
{
	while (atomic_read(&fi_puts))
		msleep(20);
}

/* "start-end" (hex) per non-empty range installed for the self-switch. */
static int kp_fi_ranges_get(char *buf, const struct kernel_param *kp)
{
	struct kp_ranges *r;
	unsigned int i;
	int len = 0;

	mutex_lock(&kp_mutex);
	r = kp_ranges_installed();
	for (i = 0; r && i < r->nr; i++)
		if (r->r[i].end > r->r[i].start)
			len += scnprintf(buf + len, PAGE_SIZE - len, "%lx-%lx\n",
					 r->r[i].start, r->r[i].end);
	mutex_unlock(&kp_mutex);
	return len;
}

static const struct kernel_param_ops kp_fi_ranges_ops = {
	.get = kp_fi_ranges_get,
};

module_param_cb(fi_ranges, &kp_fi_ranges_ops, NULL, 0400);
MODULE_PARM_DESC(fi_ranges, "test build: the code ranges the self-switch checks");
#endif
