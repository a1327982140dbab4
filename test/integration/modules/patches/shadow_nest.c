// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch for the shadow variable lookup (issue 25, item 4):
 * kp_shadow_get() must take no lock and allocate nothing, since a shadow
 * constructor or destructor runs under kp_shadow_lock with interrupts off.
 *
 * The vmlinux post-patch callback allocates shadow id 1 on init_uts_ns; its
 * constructor gets id 2 (which this module never used before); the
 * destructor of id 1 (KP_SHADOW_ID), run when the module goes, gets id 3
 * and says whether interrupts are off (they must not be: a destructor runs
 * outside kp_shadow_lock).
 * The replacement of cmdline_proc_show() prints what the constructor saw:
 * "kp-shadow-nest <value> <got>".
 *   KP_OLD_SIZE    size of cmdline_proc_show in the target vmlinux (required)
 */
#include <linux/seq_file.h>
#include <linux/utsname.h>
#include "kp_patch.h"
#include "kp_shadow.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of cmdline_proc_show) is required"
#endif

#define KP_NEST_ID	1
#define KP_NEST_OTHER	2
#define KP_NEST_DTOR_ID	3

struct kp_nest {
	int value;
	bool got_other;		/* id 2 was there: it never is */
};

static int kp_nest_ctor(void *obj, void *data, void *ctor_data)
{
	struct kp_nest *n = data;

	n->got_other = kp_shadow_get(obj, KP_NEST_OTHER) != NULL;
	n->value = 42;
	return 0;
}

static void kp_nest_dtor(void *obj, void *data)
{
	pr_info("kp_test_shadow_nest: dtor: id %d is %s, interrupts %s\n",
		KP_NEST_DTOR_ID,
		kp_shadow_get(obj, KP_NEST_DTOR_ID) ? "there" : "absent",
		irqs_disabled() ? "off" : "on");
}
KP_SHADOW_ID(KP_NEST_ID, kp_nest_dtor);

static void kp_nest_post_patch(struct kp_callback_object *obj)
{
	if (!kp_shadow_alloc(&init_uts_ns, KP_NEST_ID, sizeof(struct kp_nest),
			     GFP_KERNEL, kp_nest_ctor, NULL))
		pr_err("kp_test_shadow_nest: shadow allocation failed\n");
}
KP_CALLBACKS(KP_OBJ_VMLINUX, NULL, kp_nest_post_patch, NULL, NULL);

static int kp_cmdline_nest_show(struct seq_file *m, void *v)
{
	struct kp_nest *n = kp_shadow_get(&init_uts_ns, KP_NEST_ID);

	if (!n)
		seq_puts(m, "kp-shadow-nest none\n");
	else
		seq_printf(m, "kp-shadow-nest %d %d\n", n->value, n->got_other);
	return 0;
}

KP_FUNC(KP_OBJ_VMLINUX, "cmdline_proc_show", 0, KP_OLD_SIZE,
	kp_cmdline_nest_show);
