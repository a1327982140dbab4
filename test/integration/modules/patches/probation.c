// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of cmdline_proc_show() for the probation tests
 * (test_probation.py).  Variants, selected by the build (kmod/Makefile):
 *   KP_OLD_SIZE    size of cmdline_proc_show in the target vmlinux (required)
 *   KP_NULL_DEREF  the replacement dereferences NULL: the reader oopses
 *   KP_WARN        the replacement hits a WARN_ON and goes on
 *   (neither)      the replacement prints "kp-probation-ok"
 */
#include <linux/bug.h>
#include <linux/seq_file.h>
#include "kp_patch.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of cmdline_proc_show) is required"
#endif

#ifdef KP_NULL_DEREF
static int *kp_null_ptr;	/* stays NULL: the compiler cannot know */

static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "kp-null-%d\n", READ_ONCE(*READ_ONCE(kp_null_ptr)));
	return 0;
}
#elif defined(KP_WARN)
static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	WARN_ON(READ_ONCE(m->count) == 0);
	seq_puts(m, "kp-warned\n");
	return 0;
}
#else
static int kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "kp-probation-ok\n");
	return 0;
}
#endif

KP_FUNC(KP_OBJ_VMLINUX, "cmdline_proc_show", 0, KP_OLD_SIZE,
	kp_cmdline_proc_show);
