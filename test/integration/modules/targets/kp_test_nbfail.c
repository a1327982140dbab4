// SPDX-License-Identifier: GPL-2.0
/*
 * kp_test_nbfail.ko: a module notifier of the highest priority that makes
 * every load of kp_test_target fail at MODULE_STATE_COMING while the
 * parameter "fail" is 1, after a delay (delay_ms) during which the target is
 * in COMING state and kp_core's own notifier has not seen it yet (issue 14,
 * item 3).  busybox insmod tries finit_module, then init_module: both fail.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/notifier.h>

static unsigned int delay_ms = 3000;
module_param(delay_ms, uint, 0444);

static bool fail = true;
module_param(fail, bool, 0644);

static int kp_nbfail_notify(struct notifier_block *nb, unsigned long action,
			    void *data)
{
	struct module *mod = data;

	if (action != MODULE_STATE_COMING || strcmp(mod->name, "kp_test_target"))
		return NOTIFY_DONE;
	if (!READ_ONCE(fail))
		return NOTIFY_DONE;
	pr_info("kp_test_nbfail: holding %s in COMING for %u ms, then failing it\n",
		mod->name, delay_ms);
	msleep(delay_ms);
	return notifier_from_errno(-EBUSY);
}

static struct notifier_block kp_nbfail_nb = {
	.notifier_call = kp_nbfail_notify,
	.priority = INT_MAX,
};

static int __init kp_nbfail_init(void)
{
	return register_module_notifier(&kp_nbfail_nb);
}

static void __exit kp_nbfail_exit(void)
{
	unregister_module_notifier(&kp_nbfail_nb);
}

module_init(kp_nbfail_init);
module_exit(kp_nbfail_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp test: fail a target module's COMING after kp_core found it");
