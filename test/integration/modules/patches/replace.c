// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patches for the replace tests (test_replace.py, issue 27):
 * each replaces some of four /proc show functions with one that prints
 * "<tag>-<file>", so the guest sees which patch serves which file.  Built
 * several times by kmod/Makefile, stacked or with REPLACE=1:
 *   KP_TAG=rs1            what the replacements print first (required)
 *   KP_CMDLINE=SIZE       replace cmdline_proc_show (its size in vmlinux)
 *   KP_VERSION=SIZE       replace version_proc_show
 *   KP_LOADAVG=SIZE       replace loadavg_proc_show
 *   KP_UPTIME=SIZE        replace uptime_proc_show
 *   KP_NULL_DEREF         the cmdline replacement dereferences NULL
 *                         (probation's rollback)
 */
#include <linux/seq_file.h>
#include <linux/stringify.h>
#include "kp_patch.h"

#ifndef KP_TAG
#error "KP_TAG (what the replacements print) is required"
#endif

static noinline void kp_rs_show(struct seq_file *m, const char *file)
{
	seq_printf(m, "%s-%s\n", __stringify(KP_TAG), file);
}

#ifdef KP_CMDLINE
#ifdef KP_NULL_DEREF
static int *kp_null_ptr;	/* stays NULL: the compiler cannot know */
#endif

static int kp_rs_cmdline(struct seq_file *m, void *v)
{
#ifdef KP_NULL_DEREF
	seq_printf(m, "%d\n", READ_ONCE(*READ_ONCE(kp_null_ptr)));
#endif
	kp_rs_show(m, "cmdline");
	return 0;
}
KP_FUNC(KP_OBJ_VMLINUX, "cmdline_proc_show", 0, KP_CMDLINE, kp_rs_cmdline);
#endif

#ifdef KP_VERSION
static int kp_rs_version(struct seq_file *m, void *v)
{
	kp_rs_show(m, "version");
	return 0;
}
KP_FUNC(KP_OBJ_VMLINUX, "version_proc_show", 0, KP_VERSION, kp_rs_version);
#endif

#ifdef KP_LOADAVG
static int kp_rs_loadavg(struct seq_file *m, void *v)
{
	kp_rs_show(m, "loadavg");
	return 0;
}
KP_FUNC(KP_OBJ_VMLINUX, "loadavg_proc_show", 0, KP_LOADAVG, kp_rs_loadavg);
#endif

#ifdef KP_UPTIME
static int kp_rs_uptime(struct seq_file *m, void *v)
{
	kp_rs_show(m, "uptime");
	return 0;
}
KP_FUNC(KP_OBJ_VMLINUX, "uptime_proc_show", 0, KP_UPTIME, kp_rs_uptime);
#endif
