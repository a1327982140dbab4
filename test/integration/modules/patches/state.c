// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch for the state-transfer tests (test_state_transfer.py):
 * replaces cmdline_proc_show() with one that counts its reads in a shadow
 * variable attached to init_uts_ns (through the kernel's klp_shadow_* names)
 * and prints "kp-state-vN reads=R".  Variants, selected by kmod/Makefile:
 *   KP_OLD_SIZE     size of cmdline_proc_show in the target vmlinux (required)
 *   KP_VARIANT=N    the N printed
 *   KP_STATE_VER=V  declares state KP_TEST_ID at version V
 *   KP_TAKEOVER     declares shadow id KP_TEST_ID, with a dtor that logs
 *   KP_WITH_CALLBACKS callbacks for vmlinux and kp_test_target that log
 *                   "kp-cb: <patch> <kind> <object> mod=<0|1>"
 *   KP_PRE_FAIL     a vmlinux pre-patch callback that allocates a shadow
 *                   variable (id KP_TEST_ID + 1) and fails with -ENODEV
 *   KP_PREV_OUTSIDE the replacement also prints " prev=P": what
 *                   kp_state_prev_version() says outside a callback
 */
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include <linux/utsname.h>
#include "kp_patch.h"
#include "kp_shadow.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of cmdline_proc_show) is required"
#endif
#ifndef KP_VARIANT
#define KP_VARIANT 1
#endif

#define KP_TEST_ID 21

static int kp_cmdline_state_show(struct seq_file *m, void *v)
{
	int *reads = klp_shadow_get_or_alloc(&init_uts_ns, KP_TEST_ID,
					     sizeof(*reads), GFP_KERNEL,
					     NULL, NULL);

	if (!reads)
		return -ENOMEM;
#ifdef KP_PREV_OUTSIDE
	seq_printf(m, "kp-state-v%d reads=%d prev=%d\n", KP_VARIANT, ++*reads,
		   kp_state_prev_version(KP_TEST_ID));
#else
	seq_printf(m, "kp-state-v%d reads=%d\n", KP_VARIANT, ++*reads);
#endif
	return 0;
}

KP_FUNC(KP_OBJ_VMLINUX, "cmdline_proc_show", 0, KP_OLD_SIZE,
	kp_cmdline_state_show);

#ifdef KP_STATE_VER
KP_STATE(KP_TEST_ID, KP_STATE_VER);
#endif

#ifdef KP_TAKEOVER
static void kp_test_dtor(void *obj, void *data)
{
	pr_info("kp-dtor: id %d reads=%d\n", KP_TEST_ID, *(int *)data);
}

KP_SHADOW_ID(KP_TEST_ID, kp_test_dtor);
#endif

#ifdef KP_WITH_CALLBACKS
static void kp_log(struct kp_callback_object *obj, const char *kind)
{
	pr_info("kp-cb: %s %s %s mod=%d prev=%d\n", obj->patch, kind,
		obj->name, !!obj->mod, kp_state_prev_version(KP_TEST_ID));
}

static int kp_pre_patch(struct kp_callback_object *obj)
{
	kp_log(obj, "pre_patch");
	return 0;
}

static void kp_post_patch(struct kp_callback_object *obj)
{
	kp_log(obj, "post_patch");
}

static void kp_pre_unpatch(struct kp_callback_object *obj)
{
	kp_log(obj, "pre_unpatch");
}

static void kp_post_unpatch(struct kp_callback_object *obj)
{
	kp_log(obj, "post_unpatch");
}

KP_CALLBACKS(KP_OBJ_VMLINUX, kp_pre_patch, kp_post_patch, kp_pre_unpatch,
	     kp_post_unpatch);
KP_CALLBACKS("kp_test_target", kp_pre_patch, kp_post_patch, kp_pre_unpatch,
	     kp_post_unpatch);
#endif

#ifdef KP_PRE_FAIL
static int kp_pre_fail(struct kp_callback_object *obj)
{
	if (!kp_shadow_alloc(&init_uts_ns, KP_TEST_ID + 1, 64, GFP_KERNEL,
			     NULL, NULL))
		return -ENOMEM;
	pr_info("kp-cb: %s pre_patch %s: failing on purpose\n", obj->patch,
		obj->name);
	return -ENODEV;
}

static void kp_never(struct kp_callback_object *obj)
{
	pr_err("kp-cb: %s post callback after a failed pre-patch\n",
	       obj->patch);
}

KP_CALLBACKS(KP_OBJ_VMLINUX, kp_pre_fail, kp_never, kp_never, kp_never);
#endif
