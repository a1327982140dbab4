// SPDX-License-Identifier: GPL-2.0
/*
 * kpctl_fixture: kp patch records (include/kp/abi.h) in a real .ko, for kpctl's
 * unit tests.  Two replaced functions (one in vmlinux, one in the fuse module), one
 * kp_syms record expressed as exported anchor + offset, one kp_relocs record, two
 * kp_source modinfo entries, and an undefined symbol (_printk).  The records are
 * written by hand with the expected values the tests check; the module never
 * registers with the core.
 */
#include <linux/module.h>
#include <linux/jiffies.h>
#include <generated/utsrelease.h>
#include <kp/abi.h>

static int fixture_cmdline_show(void *m, void *v)
{
	return 0;
}

static long fixture_dev_read(void *iocb, void *to)
{
	return 0;
}

static unsigned long fixture_reloc_slot;

static const struct kp_func_rec fixture_funcs[] __used __aligned(8)
	__section("kp_funcs") = {
	{
		.objname = (__u64)(unsigned long)"vmlinux",
		.name = (__u64)(unsigned long)"cmdline_proc_show",
		.sympos = 0,
		.old_size = 0x3c,
		.new_func = (__u64)(unsigned long)fixture_cmdline_show,
		.new_size = 0,
	},
	{
		.objname = (__u64)(unsigned long)"fuse",
		.name = (__u64)(unsigned long)"fuse_dev_read",
		.sympos = 2,
		.old_size = 0x120,
		.new_func = (__u64)(unsigned long)fixture_dev_read,
		.new_size = 0,
	},
};

static const struct kp_sym_rec fixture_syms[] __used __aligned(8)
	__section("kp_syms") = {
	{
		.objname = (__u64)(unsigned long)"vmlinux",
		.name = (__u64)(unsigned long)"fixture_hidden_symbol",
		.sympos = 1,
		.addr = (__u64)((unsigned long)&jiffies_64 + 0x100),
	},
};

static const struct kp_reloc_rec fixture_relocs[] __used __aligned(8)
	__section("kp_relocs") = {
	{
		.dest = (__u64)(unsigned long)&fixture_reloc_slot,
		.objname = (__u64)(unsigned long)"fuse",
		.name = (__u64)(unsigned long)"fuse_conn_get",
		.sympos = 0,
		.addend = -4,
		.type = 2,	/* R_X86_64_PC32 */
	},
};

static const struct kp_patch_rec fixture_patch __used __aligned(8)
	__section("kp_patch") = {
	.magic = KP_PATCH_MAGIC,
	.abi_version = KP_ABI_VERSION,
	.name = (__u64)(unsigned long)KBUILD_MODNAME,
	.target_release = (__u64)(unsigned long)UTS_RELEASE,
	.target_build_id = (__u64)(unsigned long)KP_TARGET_BUILD_ID,
	.funcs = (__u64)(unsigned long)&fixture_funcs[0],
	.funcs_end = (__u64)(unsigned long)&fixture_funcs[ARRAY_SIZE(fixture_funcs)],
	.syms = (__u64)(unsigned long)&fixture_syms[0],
	.syms_end = (__u64)(unsigned long)&fixture_syms[ARRAY_SIZE(fixture_syms)],
	.relocs = (__u64)(unsigned long)&fixture_relocs[0],
	.relocs_end = (__u64)(unsigned long)&fixture_relocs[ARRAY_SIZE(fixture_relocs)],
};

MODULE_INFO(kp_patch, "1");
MODULE_INFO(kp_target_release, UTS_RELEASE);
MODULE_INFO(kp_target_build_id, KP_TARGET_BUILD_ID);
MODULE_INFO(kp_source, "fix-one.diff:1111111111111111111111111111111111111111111111111111111111111111");
MODULE_INFO(kp_source, "fix-two.diff:2222222222222222222222222222222222222222222222222222222222222222");

static int __init fixture_init(void)
{
	pr_info("kpctl_fixture loaded (slot %lu)\n", fixture_reloc_slot);
	return 0;
}

static void __exit fixture_exit(void)
{
}

module_init(fixture_init);
module_exit(fixture_exit);
MODULE_DESCRIPTION("kpctl test fixture: kp patch records, never registered");
MODULE_LICENSE("GPL");
