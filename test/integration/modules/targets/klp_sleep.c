// SPDX-License-Identifier: GPL-2.0
/*
 * klp_sleep.ko: the kernel's own livepatch of kp_bench_sleep() in
 * kp_bench_target.ko, the same change as the kp patch sleep.c, to compare how
 * long the two transitions take with the same sleeping threads.
 */
#include <linux/delay.h>
#include <linux/livepatch.h>
#include <linux/module.h>

static int klp_sleep_fn(void)
{
	usleep_range(400, 600);
	return 2;
}

static struct klp_func funcs[] = {
	{ .old_name = "kp_bench_sleep", .new_func = klp_sleep_fn, },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "kp_bench_target", .funcs = funcs, },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init klp_sleep_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit klp_sleep_exit(void)
{
}

module_init(klp_sleep_init);
module_exit(klp_sleep_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("kp bench: livepatch of kp_bench_sleep");
