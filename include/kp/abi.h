/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kp patch-module ABI: the records diffgen writes into a patch object, the patch
 * module template links, the core module reads at load, and kpctl reads from the
 * .ko file without loading it.  Shared by kernel C (kmod/) and userspace C++.
 *
 * Every record lives in its own section of the patch module.  Pointer fields are
 * 64-bit and filled by ordinary R_X86_64_64 relocations that the kernel's module
 * loader applies, so a record is usable as a plain C struct in the core module and
 * readable (section bytes + relocations) by userspace tools.
 *
 * Layout is fixed: 8-byte fields only, no implicit padding.  Bump KP_ABI_VERSION on
 * any change.
 */
#ifndef KP_ABI_H
#define KP_ABI_H

#include <linux/types.h>	/* __u64, __s64: kernel and UAPI headers alike */

/*
 * 2: kp_register_patch() takes the transition timeout.
 * 3: kp_callbacks, kp_states and kp_shadows records.
 * 4: kp_values records (opt-in transfer of a changed global's initial value).
 * 5: kp_policy records (the faults that roll the patch back during probation).
 * 6: kp_addrs records (target functions whose address the patch takes: IBT);
 *    kp_policy records carry on_timeout (what an enable does past its timeout).
 * 7: kp_patch carries the patch's replace set and flags (KP_PATCH_REPLACE).
 */
#define KP_ABI_VERSION 7

/* Section names (identifiers, so the patch linker script can bound them). */
#define KP_SEC_FUNCS	"kp_funcs"	/* struct kp_func_rec[] */
#define KP_SEC_SYMS	"kp_syms"	/* struct kp_sym_rec[] */
#define KP_SEC_RELOCS	"kp_relocs"	/* struct kp_reloc_rec[] */
#define KP_SEC_PATCH	"kp_patch"	/* one struct kp_patch_rec (from the template) */
#define KP_SEC_CALLBACKS "kp_callbacks"	/* struct kp_callback_rec[] */
#define KP_SEC_STATES	"kp_states"	/* struct kp_state_rec[] */
#define KP_SEC_SHADOWS	"kp_shadows"	/* struct kp_shadow_rec[] */
#define KP_SEC_VALUES	"kp_values"	/* struct kp_value_rec[] */
#define KP_SEC_POLICY	"kp_policy"	/* struct kp_policy_rec[] */
#define KP_SEC_ADDRS	"kp_addrs"	/* struct kp_addr_rec[] */

/* Object name of the kernel image; anything else is a module name. */
#define KP_OBJ_VMLINUX	"vmlinux"

/*
 * One replaced function.  @objname/@name/@sympos identify the old function in the
 * running kernel (sympos: 0 = the name is unique in that object, N = the N-th symbol
 * of that name in address order, counting from 1).  @old_size is the size the patch
 * was built against; the core refuses the patch when the running one differs.
 */
struct kp_func_rec {
	__u64 objname;		/* const char * */
	__u64 name;		/* const char * */
	__u64 sympos;
	__u64 old_size;
	__u64 new_func;		/* address of the replacement (relocated) */
	__u64 new_size;
};

/*
 * A non-exported symbol of the running kernel that the patch code refers to and that
 * kp-build resolved at build time (relocation against an exported anchor symbol plus
 * a constant offset, valid for the exact vmlinux whose build ID the patch records).
 * The core checks, before anything is patched, that name+sympos in @objname resolves
 * to exactly @addr; any difference refuses the load.
 */
struct kp_sym_rec {
	__u64 objname;		/* const char * */
	__u64 name;		/* const char * */
	__u64 sympos;
	__u64 addr;		/* where the build expects the symbol (relocated) */
};

/*
 * A relocation the core applies itself (text_poke), for symbols of a module target
 * that may load after the patch.  Applied when the target object is present, before
 * any patched function of that object is redirected.  Never referenced from special
 * sections (diffgen refuses those).
 */
struct kp_reloc_rec {
	__u64 dest;		/* address in the patch module to write (relocated) */
	__u64 objname;		/* const char * */
	__u64 name;		/* const char * */
	__u64 sympos;
	__s64 addend;
	__u64 type;		/* R_X86_64_64, _PC32, _PLT32, _32S */
};

/*
 * Callbacks of one object (livepatch: klp_callbacks), each 0 or the address
 * of a function taking a struct kp_callback_object * (kmod/patch/kp_patch.h):
 * pre_patch returns 0 or a negative errno, the others return nothing.  An
 * object may have several records; each kind may be set in one of them only.
 */
struct kp_callback_rec {
	__u64 objname;		/* const char * */
	__u64 pre_patch;
	__u64 post_patch;
	__u64 pre_unpatch;
	__u64 post_unpatch;
};

/*
 * A system state the patch creates or takes over (livepatch: klp_state).  A
 * patch is refused while a loaded patch declares a state it does not declare,
 * or declares it with a higher version.
 */
struct kp_state_rec {
	__u64 id;
	__u64 version;
};

/*
 * A shadow variable id the patch uses: it keeps the id's variables alive
 * while the patch module is loaded (also before its code first touches
 * them), and @dtor (0 or void (*)(void *obj, void *shadow_data)) is called on
 * each one kp frees when the id's last user goes.
 */
struct kp_shadow_rec {
	__u64 id;
	__u64 dtor;
};

/*
 * A global of the target (vmlinux or a module) whose initial value the patch
 * changes and whose new value is transferred into the live variable
 * (KP_TRANSFER_VALUE in kmod/patch/kp-value.h; the rule for when, and for a
 * value changed at run time, is in docs/architecture.md "Value transfer").
 * @name/@sympos identify the variable as kp_func_rec does a function; @size
 * is its size in bytes (at most KP_VALUE_MAX); the first @size bytes of
 * @old_value and @new_value are its initial value before and after the
 * patch.  The values are inline so the record holds no pointer to check.
 */
#define KP_VALUE_MAX	64
struct kp_value_rec {
	__u64 objname;		/* const char * */
	__u64 name;		/* const char * */
	__u64 sympos;
	__u64 size;
	__u64 old_value[KP_VALUE_MAX / 8];
	__u64 new_value[KP_VALUE_MAX / 8];
};

/*
 * What rolls the patch back during its probation besides the default, which
 * is only evidence that the new code itself is broken: an Oops, BUG or
 * general protection fault whose faulting IP is in the patch's code, a lockup
 * or RCU stall with the patch's code at the top of the stuck stack (the IP or
 * one of its two innermost callers).  The patch author sets more kinds with
 * KP_ROLLBACK_ON() (kmod/patch/kp_patch.h) or KPATCH_ROLLBACK_ON()
 * (kpatch-macros.h); the operator adds kinds for one load (kpctl load
 * --rollback-on, /sys/kernel/kp/<patch>/rollback_on).  The records of a
 * patch are ORed; an unknown bit refuses the patch.
 */
#define KP_ROLLBACK_WARN	0x1ULL	/* a WARN whose ud2 is in the patch's code */
#define KP_ROLLBACK_STACK	0x2ULL	/* the patch's code anywhere on the stack */
#define KP_ROLLBACK_ALL		(KP_ROLLBACK_WARN | KP_ROLLBACK_STACK)

/*
 * What an enable still waiting for tasks at its timeout does (issue 25;
 * docs/architecture.md "Who may hold a fix back"): stay pending, the new
 * code live for every task already switched (the default: one task must not
 * veto a fix for everyone), or reverse.  0 in a record: it does not say.
 * Set with KP_ON_TIMEOUT() / KPATCH_ON_TIMEOUT(); records that say must
 * agree; kpctl load --on-timeout overrides them for one load.
 */
#define KP_ON_TIMEOUT_PENDING	1
#define KP_ON_TIMEOUT_REVERSE	2

struct kp_policy_rec {
	__u64 rollback_on;	/* KP_ROLLBACK_* */
	__u64 on_timeout;	/* KP_ON_TIMEOUT_*, 0: not said */
};

/*
 * A function of the target whose address the patch takes (a value an indirect
 * call may use), written by diffgen when the target it was built against has
 * ENDBR64 there (an IBT kernel, CONFIG_X86_KERNEL_IBT).  The core refuses the
 * patch unless the running function still starts with ENDBR64: objtool sealed
 * the ENDBR of every function whose address the kernel never takes, and the
 * kernel poisons it at boot (or at module load); an indirect call to a poisoned
 * or missing ENDBR faults with #CP on a CPU that enforces IBT.  kp-build
 * refuses such a patch from the target's .ibt_endbr_seal already; this is the
 * check of what the running kernel has.
 */
struct kp_addr_rec {
	__u64 objname;		/* const char * */
	__u64 name;		/* const char * */
	__u64 sympos;
	__u64 user;		/* const char *: the patch's function (or section) */
};

#ifdef __KERNEL__
struct module;

/*
 * What a callback gets (kmod/patch/kp_patch.h; kpatch-macros.h calls it
 * patch_object): the object it runs for, vmlinux (@mod NULL) or a module.
 */
struct kp_callback_object {
	const char *name;		/* "vmlinux" or the module's name */
	struct module *mod;		/* NULL for vmlinux */
	const char *patch;		/* the patch's name */
};
#endif

#define KP_PATCH_MAGIC	0x6b70706174636831ULL	/* "kppatch1" */

/*
 * Patch-wide record, emitted by the patch template (kmod/patch/) in section kp_patch.
 * @target_build_id is the hex GNU build ID of the vmlinux the patch was built for.
 * The array bounds come from the template's linker script (kp_funcs etc. sections).
 */
struct kp_patch_rec {
	__u64 magic;
	__u64 abi_version;
	__u64 name;		/* const char *: patch name (module name) */
	__u64 target_release;	/* const char *: UTS release */
	__u64 target_build_id;	/* const char *: hex */
	__u64 funcs;		/* struct kp_func_rec *: first record */
	__u64 funcs_end;	/* one past the last record */
	__u64 syms;		/* struct kp_sym_rec * */
	__u64 syms_end;
	__u64 relocs;		/* struct kp_reloc_rec * */
	__u64 relocs_end;
	__u64 callbacks;	/* struct kp_callback_rec * */
	__u64 callbacks_end;
	__u64 states;		/* struct kp_state_rec * */
	__u64 states_end;
	__u64 shadows;		/* struct kp_shadow_rec * */
	__u64 shadows_end;
	__u64 values;		/* struct kp_value_rec * */
	__u64 values_end;
	__u64 policy;		/* struct kp_policy_rec * */
	__u64 policy_end;
	__u64 addrs;		/* struct kp_addr_rec * */
	__u64 addrs_end;
	__u64 set;		/* const char *: replace set, 0 = the default set */
	__u64 flags;		/* KP_PATCH_* */
};

/*
 * kp_patch flags.  KP_PATCH_REPLACE (issue 27; livepatch: klp_patch.replace):
 * when the patch goes live it replaces every enabled patch of its set in one
 * transition; the functions they changed and it does not go back to the
 * original code (docs/architecture.md "Replace").  Every patch belongs to one
 * set (kp-build --set NAME; the default set when none is named).  An unknown
 * bit refuses the patch.
 */
#define KP_PATCH_REPLACE	0x1ULL
#define KP_PATCH_FLAGS		KP_PATCH_REPLACE
#define KP_SET_NAME_MAX		64	/* a set name, NUL excluded */

/*
 * .modinfo keys the template adds (readable with modinfo(8) and kpctl info):
 *   kp_patch=1                  marks a kp patch module
 *   kp_target_release=RELEASE   kp_target_build_id=HEX
 *   kp_source=FILE:SHA256       one per source patch file, in apply order
 */

#endif /* KP_ABI_H */
