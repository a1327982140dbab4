// SPDX-License-Identifier: GPL-2.0
/*
 * fault.c - what the kernel reports that probation (probation.c) may pin on
 * a patch.  kp only observes: the kernel handles every fault as it always
 * does (the task dies, or the machine panics with panic_on_oops).
 *
 * What Linux 6.1 x86_64 delivers, and how kp sees it:
 *   - Oops, BUG, general protection fault, bad page fault: each ends in
 *     __die(), which calls the die notifier chain with DIE_OOPS and the
 *     faulting registers (after show_regs(), before the task dies), under
 *     the die lock.  "str" tells them apart: "Oops" / "Bad pagetable" (page
 *     fault: do_page_fault -> page_fault_oops), "general protection fault"
 *     (exc_general_protection -> die_addr), "invalid opcode" (BUG(): ud2,
 *     handle_bug -> report_bug finds a BUG entry -> do_error_trap -> die).
 *     DIE_GPF and DIE_TRAP come before a fixup may still handle the fault,
 *     so only DIE_OOPS is used.  The notifier blames the patch whose module
 *     text holds the faulting IP or, when the patch's policy asks for it
 *     (KP_ROLLBACK_STACK, probation.c), any return address of the current
 *     stack (stack_trace_save(): the ORC unwinder goes through the exception
 *     frame into the faulting context).
 *   - WARN: on x86 a WARN is a ud2 with a __bug_table entry; handle_bug()
 *     -> report_bug() -> __warn(file, line, caller = the ud2's address,
 *     taint, regs, NULL), which prints "WARNING:" and returns, the task
 *     going on.  No notifier is called (DIE_TRAP only for BUG).  kp puts a
 *     kprobe on __warn() and blames the patch whose text holds "caller"
 *     (its third argument, %rdx), when its policy asks for WARNs
 *     (KP_ROLLBACK_WARN).  WARNs through warn_slowpath_fmt (not
 *     used for WARN on x86) pass their return address the same way.
 *   - Soft and hard lockups, RCU stalls: lockup.c.
 *
 * The hooks cost nothing on the patched call path, and return at once
 * while no patch is on probation.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/kdebug.h>
#include <linux/kprobes.h>
#include <linux/ptrace.h>
#include <linux/stacktrace.h>
#include <linux/string.h>
#include "fault.h"
#include "kallsyms.h"
#include "probation.h"
#include "symbols.h"

#define KP_FAULT_STACK	64

/* Used under the die lock: one CPU dies at a time. */
static unsigned long kp_die_stack[KP_FAULT_STACK];

static const char *kp_fault_type(const struct die_args *args)
{
	if (!args->str)
		return "Oops";
	if (!strcmp(args->str, "Oops") || !strcmp(args->str, "Bad pagetable"))
		return "page fault";
	if (!strcmp(args->str, "invalid opcode"))
		return "BUG";
	return args->str;
}

static int kp_die_notify(struct notifier_block *nb, unsigned long val,
			 void *data)
{
	struct die_args *args = data;
	unsigned int nr;

	if (val != DIE_OOPS || !args->regs || !kp_probation_watching())
		return NOTIFY_DONE;
	nr = stack_trace_save(kp_die_stack, ARRAY_SIZE(kp_die_stack), 0);
	kp_probation_blame(KP_FAULT_OOPS, kp_fault_type(args), args->regs->ip,
			   kp_die_stack, nr);
	return NOTIFY_DONE;
}

static struct notifier_block kp_die_nb = {
	.notifier_call = kp_die_notify,
};

static int kp_warn_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long caller = regs->dx;	/* __warn()'s third argument */

	if (kp_probation_watching())
		kp_probation_blame(KP_FAULT_WARN, "WARN", caller, NULL, 0);
	return 0;
}

static struct kprobe kp_warn_kprobe = {
	.symbol_name = "__warn",
	.pre_handler = kp_warn_pre,
};

static bool kp_warn_watched;

/*
 * A kernel without kprobes (or with __warn blacklisted) still gets the rest
 * of probation: WARNs are then not pinned on patches, and the log says so.
 */
int kp_fault_init(void)
{
	int ret;

	ret = register_die_notifier(&kp_die_nb);
	if (ret)
		return ret;
	kp_warn_kprobe.offset = kp_after_fentry("__warn");
	ret = register_kprobe(&kp_warn_kprobe);
	if (ret)
		pr_warn("probation does not watch WARNs: no kprobe on __warn (%d)\n",
			ret);
	kp_warn_watched = !ret;
	return 0;
}

void kp_fault_exit(void)
{
	if (kp_warn_watched)
		unregister_kprobe(&kp_warn_kprobe);
	unregister_die_notifier(&kp_die_nb);
}
