// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written kp patch of cmdline_proc_show() (its effect shows in
 * /proc/cmdline), built with the kmod/patch template.  Variants, selected by
 * the build (kmod/Makefile):
 *   KP_OLD_SIZE      size of cmdline_proc_show in the target vmlinux (required)
 *   KP_VARIANT=N     prints "kp-patched-vN"
 *   KP_BAD_NAME      replaces a function that does not exist
 *   KP_SYMPOS=N      asks for the N-th cmdline_proc_show
 *   KP_SIZE_DELTA=N  claims a wrong old size
 *   KP_BAD_KSYM      a kp_syms record whose address is another symbol's
 *   KP_ORPHAN_SYM    a kp_syms record of an object it replaces nothing in
 *   KP_ORPHAN_RELOC  a kp_relocs record of an object it replaces nothing in
 *   KP_INIT_FN       the replacement lies in .init.text
 *   KP_INIT_CB       a pre_unpatch callback in .init.text
 *   KP_INIT_DTOR     a shadow destructor (KP_SHADOW_ID) in .init.text
 *   KP_INIT_STR      a kp_syms record whose name is __initconst
 *   KP_ADDR_NO_ENDBR a kp_addrs record: the replacement takes the address of
 *                    seq_printf, built as if for an IBT kernel (where it would
 *                    start with ENDBR64); the test kernel has no IBT
 *   KP_ORPHAN_ADDR   a kp_addrs record of an object it replaces nothing in
 */
#include <linux/elf.h>
#include <linux/seq_file.h>
#include "kp_patch.h"
#include "kp_shadow.h"

#ifndef KP_OLD_SIZE
#error "KP_OLD_SIZE (size of cmdline_proc_show) is required"
#endif
#ifndef KP_VARIANT
#define KP_VARIANT 1
#endif
#ifndef KP_SYMPOS
#define KP_SYMPOS 0
#endif
#ifndef KP_SIZE_DELTA
#define KP_SIZE_DELTA 0
#endif
#ifdef KP_BAD_NAME
#define KP_FUNC_NAME "kp_no_such_function"
#else
#define KP_FUNC_NAME "cmdline_proc_show"
#endif

#ifdef KP_INIT_FN
#define KP_FN_ATTR __init
#else
#define KP_FN_ATTR
#endif

static int KP_FN_ATTR kp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "kp-patched-v%d\n", KP_VARIANT);
	return 0;
}

KP_FUNC(KP_OBJ_VMLINUX, KP_FUNC_NAME, KP_SYMPOS, KP_OLD_SIZE + KP_SIZE_DELTA,
	kp_cmdline_proc_show);

/* The replacement calls seq_printf: check it is the symbol we linked to. */
#ifdef KP_BAD_KSYM
KP_SYM(KP_OBJ_VMLINUX, "seq_puts", 0, seq_printf);
#elif defined(KP_INIT_STR)
static const char kp_init_name[] __initconst = "seq_printf";
KP_SYM(KP_OBJ_VMLINUX, kp_init_name, 0, seq_printf);
#else
KP_SYM(KP_OBJ_VMLINUX, "seq_printf", 0, seq_printf);
#endif

#ifdef KP_INIT_CB
static void __init kp_init_cb(struct kp_callback_object *obj)
{
	pr_info("kp_test_initcb: pre_unpatch\n");
}
KP_CALLBACKS(KP_OBJ_VMLINUX, NULL, NULL, kp_init_cb, NULL);
#endif
#ifdef KP_INIT_DTOR
static void __init kp_init_dtor(void *obj, void *data)
{
}
KP_SHADOW_ID(7, kp_init_dtor);
#endif

#ifdef KP_ADDR_NO_ENDBR
KP_ADDR(KP_OBJ_VMLINUX, "seq_printf", 0, "kp_cmdline_proc_show");
#endif
#ifdef KP_ORPHAN_ADDR
KP_ADDR("kp_test_target", "kp_target_value", 0, "kp_cmdline_proc_show");
#endif
#ifdef KP_ORPHAN_SYM
KP_SYM("kp_test_target", "kp_target_secret", 0, seq_printf);
#endif
#ifdef KP_ORPHAN_RELOC
static unsigned long kp_orphan_slot;
KP_RELOC(&kp_orphan_slot, "kp_test_target", "kp_target_secret", 0, 0, R_X86_64_64);
#endif
