// SPDX-License-Identifier: GPL-2.0
/*
 * klp_bench.ko: the kernel's own livepatch replacing kp_bench_klp_fn() of
 * kp_bench_target.ko, to compare the call cost with a kp patch.
 */
#include <linux/livepatch.h>
#include <linux/module.h>

static long klp_bench_fn(long x)
{
	return x * 3 + 2;
}

static struct klp_func funcs[] = {
	{ .old_name = "kp_bench_klp_fn", .new_func = klp_bench_fn, },
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

static int __init klp_bench_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit klp_bench_exit(void)
{
}

module_init(klp_bench_init);
module_exit(klp_bench_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("kp bench: livepatch of kp_bench_fn");
