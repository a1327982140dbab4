/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpatch-macros.h - kp's own header of the name kpatch patches include, so
 * that patches written for kpatch build unchanged with kp-build.  Written
 * from kpatch's documented behaviour (its patch author guide), not from its
 * code.  kp-build copies it (with kpatch-syscall.h and kp-abi.h, a copy of
 * include/kp/abi.h) next to every source file a patch changes.
 *
 * Callbacks: KPATCH_{PRE,POST}_{PATCH,UNPATCH}_CALLBACK(fn), at most one of
 * each per object (the vmlinux or module the file is built into), with
 * livepatch semantics: fn takes a patch_object * (->mod is NULL for
 * vmlinux); a pre-patch callback returns 0 or a negative errno, which
 * cancels the load (or the module's load); the others return nothing.  They
 * run only while their object is loaded.  diffgen fills in the object.
 *
 * KPATCH_IGNORE_FUNCTION(fn) and KPATCH_IGNORE_SECTION(name): changes to that
 * function or section are not part of the patch.  KPATCH_FORCE_UNSAFE(fn):
 * kpatch replaces fn without its consistency check; kp accepts the marker
 * but keeps the check (a transition that cannot finish stays pending or
 * reverses, and /sys/kernel/kp/<patch>/force remains the explicit way out).
 *
 * KPATCH_ROLLBACK_ON(KP_ROLLBACK_WARN | KP_ROLLBACK_STACK) (kp only): the
 * faults that roll the patch back during its probation besides the default
 * (the faulting IP in the new code); diffgen carries the record whole.
 * KPATCH_ON_TIMEOUT(KP_ON_TIMEOUT_REVERSE) (kp only): an enable that tasks
 * hold past its timeout reverses instead of staying pending.
 */
#ifndef __KPATCH_MACROS_H_
#define __KPATCH_MACROS_H_

#include <linux/compiler.h>
#include <linux/build_bug.h>
#include "kp-abi.h"

#define patch_object struct kp_callback_object

#define __KPATCH_CB_CHECK(fn, type)					\
	BUILD_BUG_ON_ZERO(!__builtin_types_compatible_p(typeof(&(fn)), type))

/* One kp_callbacks record; diffgen sets .objname to the object's name. */
#define __KPATCH_CALLBACK(field, fn, type)				\
	static const struct kp_callback_rec __used __aligned(8)	\
	__section("kp_callbacks")					\
	__UNIQUE_ID(kpatch_cb) = {					\
		.objname = 0,						\
		.field = (__u64)(unsigned long)(fn) +			\
			 __KPATCH_CB_CHECK(fn, type),			\
	}

#define KPATCH_PRE_PATCH_CALLBACK(fn)					\
	__KPATCH_CALLBACK(pre_patch, fn, int (*)(patch_object *))
#define KPATCH_POST_PATCH_CALLBACK(fn)					\
	__KPATCH_CALLBACK(post_patch, fn, void (*)(patch_object *))
#define KPATCH_PRE_UNPATCH_CALLBACK(fn)					\
	__KPATCH_CALLBACK(pre_unpatch, fn, void (*)(patch_object *))
#define KPATCH_POST_UNPATCH_CALLBACK(fn)				\
	__KPATCH_CALLBACK(post_unpatch, fn, void (*)(patch_object *))

#define KPATCH_ROLLBACK_ON(kinds)					\
	static const struct kp_policy_rec __used __aligned(8)		\
	__section("kp_policy")						\
	__UNIQUE_ID(kpatch_policy) = { .rollback_on = (kinds) }

#define KPATCH_ON_TIMEOUT(mode)						\
	static const struct kp_policy_rec __used __aligned(8)		\
	__section("kp_policy")						\
	__UNIQUE_ID(kpatch_policy) = { .on_timeout = (mode) }

/* Markers diffgen reads from the patched object and never carries. */
#define KPATCH_IGNORE_SECTION(name)					\
	static const char __UNIQUE_ID(kpatch_ignore_sec)[] __used	\
	__section(".discard.kp.ignore.sections") = name
#define KPATCH_IGNORE_FUNCTION(fn)					\
	static void *__UNIQUE_ID(kpatch_ignore_fn) __used		\
	__section(".discard.kp.ignore.functions") = (void *)(fn)
#define KPATCH_FORCE_UNSAFE(fn)						\
	static void *__UNIQUE_ID(kpatch_force) __used			\
	__section(".discard.kp.force") = (void *)(fn)

#endif /* __KPATCH_MACROS_H_ */
