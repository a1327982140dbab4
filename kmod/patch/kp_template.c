// SPDX-License-Identifier: GPL-2.0
/*
 * kp patch-module template.  kp-build (or a test) links this file with the
 * objects that hold the replacement functions and their kp_funcs / kp_syms /
 * kp_relocs records; kp-patch.lds bounds the record sections.
 *
 * The builder passes -DKP_TARGET_BUILD_ID="hex" and -DKP_TARGET_RELEASE="rel",
 * and for a patch that replaces the earlier ones of its set (kp-build
 * --replace, --set NAME) -DKP_BUILD_REPLACE and -DKP_BUILD_SET="NAME";
 * kp_sources.h (generated, may be empty) lists the source patches with
 * KP_SOURCE("file:sha256") lines.
 */

#include <linux/module.h>
#include "kp_patch.h"

#ifndef KP_TARGET_BUILD_ID
#error "the builder must define KP_TARGET_BUILD_ID (hex GNU build ID of vmlinux)"
#endif
#ifndef KP_TARGET_RELEASE
#error "the builder must define KP_TARGET_RELEASE (kernel release)"
#endif

/*
 * Empty markers so each record section exists and is allocatable even when
 * the patch has no record of that kind.
 */
static const struct kp_func_rec __kp_funcs_none[0] __used
	__section(KP_SEC_FUNCS);
static const struct kp_sym_rec __kp_syms_none[0] __used
	__section(KP_SEC_SYMS);
static const struct kp_reloc_rec __kp_relocs_none[0] __used
	__section(KP_SEC_RELOCS);
static const struct kp_callback_rec __kp_callbacks_none[0] __used
	__section(KP_SEC_CALLBACKS);
static const struct kp_state_rec __kp_states_none[0] __used
	__section(KP_SEC_STATES);
static const struct kp_shadow_rec __kp_shadows_none[0] __used
	__section(KP_SEC_SHADOWS);
static const struct kp_value_rec __kp_values_none[0] __used
	__section(KP_SEC_VALUES);
static const struct kp_policy_rec __kp_policy_none[0] __used
	__section(KP_SEC_POLICY);
static const struct kp_addr_rec __kp_addrs_none[0] __used
	__section(KP_SEC_ADDRS);

#define KP_PTR(p) ((__u64)(unsigned long)(p))

#ifdef KP_BUILD_SET
#define KP_SET_PTR KP_PTR(KP_BUILD_SET)
#else
#define KP_SET_PTR 0	/* the default set */
#endif
#ifdef KP_BUILD_REPLACE
#define KP_FLAGS KP_PATCH_REPLACE
#else
#define KP_FLAGS 0
#endif

const struct kp_patch_rec __kp_patch __used __aligned(8)
	__section(KP_SEC_PATCH) = {
	.magic = KP_PATCH_MAGIC,
	.abi_version = KP_ABI_VERSION,
	.name = KP_PTR(KBUILD_MODNAME),
	.target_release = KP_PTR(KP_TARGET_RELEASE),
	.target_build_id = KP_PTR(KP_TARGET_BUILD_ID),
	.funcs = KP_PTR(__kp_funcs_start),
	.funcs_end = KP_PTR(__kp_funcs_end),
	.syms = KP_PTR(__kp_syms_start),
	.syms_end = KP_PTR(__kp_syms_end),
	.relocs = KP_PTR(__kp_relocs_start),
	.relocs_end = KP_PTR(__kp_relocs_end),
	.callbacks = KP_PTR(__kp_callbacks_start),
	.callbacks_end = KP_PTR(__kp_callbacks_end),
	.states = KP_PTR(__kp_states_start),
	.states_end = KP_PTR(__kp_states_end),
	.shadows = KP_PTR(__kp_shadows_start),
	.shadows_end = KP_PTR(__kp_shadows_end),
	.values = KP_PTR(__kp_values_start),
	.values_end = KP_PTR(__kp_values_end),
	.policy = KP_PTR(__kp_policy_start),
	.policy_end = KP_PTR(__kp_policy_end),
	.addrs = KP_PTR(__kp_addrs_start),
	.addrs_end = KP_PTR(__kp_addrs_end),
	.set = KP_SET_PTR,
	.flags = KP_FLAGS,
};

#define KP_SOURCE(s) MODULE_INFO(kp_source, s)
#include "kp_sources.h"

static unsigned int transition_timeout;
module_param(transition_timeout, uint, 0400);
MODULE_PARM_DESC(transition_timeout, "seconds the switch may take before it reverses or stays pending (on_timeout; 0: kp_core's default)");

static int __init kp_patch_init(void)
{
	return kp_register_patch(THIS_MODULE, &__kp_patch, transition_timeout);
}

static void __exit kp_patch_exit(void)
{
	kp_unregister_patch(THIS_MODULE, &__kp_patch);
}

module_init(kp_patch_init);
module_exit(kp_patch_exit);
MODULE_INFO(kp_patch, "1");
MODULE_INFO(kp_target_build_id, KP_TARGET_BUILD_ID);
MODULE_INFO(kp_target_release, KP_TARGET_RELEASE);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp live patch");
