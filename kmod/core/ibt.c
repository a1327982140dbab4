// SPDX-License-Identifier: GPL-2.0
/*
 * ibt.c - the target functions whose address a patch takes (kp_addrs
 * records, include/kp/abi.h) must start with ENDBR64 in the running kernel.
 *
 * With IBT (CONFIG_X86_KERNEL_IBT), objtool lists the ENDBR of every function
 * whose address the kernel never takes in .ibt_endbr_seal, and
 * apply_seal_endbr() poisons it at boot (vmlinux) or at load (a module),
 * whether the CPU enforces IBT or not.  A patch that newly takes the address
 * of such a function faults with #CP at the first indirect call through it.
 * kp-build refuses that patch from the target's seal list; this checks what
 * an indirect call would meet in the running kernel, when the object is
 * resolved (vmlinux at load, a module when it is present).  livepatch and
 * kpatch have no such check: klp-build leaves the case to the patch author.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/string.h>
#include <linux/uaccess.h>
#include "ibt.h"
#include "reloc.h"
#include "symbols.h"

#define KP_ENDBR64	0xfa1e0ff3U	/* f3 0f 1e fa, read as a little-endian u32 */

#define kp_for_each_addr(patch, a)					\
	for (a = (const struct kp_addr_rec *)(unsigned long)(patch)->rec->addrs; \
	     a < (const struct kp_addr_rec *)(unsigned long)(patch)->rec->addrs_end; \
	     a++)

static const char *kp_str(__u64 p)
{
	return (const char *)(unsigned long)p;
}

/* At register: each record names an object the patch replaces a function in. */
int kp_check_addr_records(struct kp_patch *patch)
{
	const struct kp_addr_rec *a;

	kp_for_each_addr(patch, a) {
		if (a->objname && a->name &&
		    kp_patch_has_object(patch, kp_str(a->objname)))
			continue;
		pr_err("%s: kp_addrs record of %s, an object the patch replaces no function in\n",
		       patch->name, a->objname ? kp_str(a->objname) : "(null)");
		return -EINVAL;
	}
	return 0;
}

/* Every function of @obj whose address the patch takes starts with ENDBR64. */
int kp_verify_addrs(struct kp_patch *patch, struct kp_object *obj)
{
	const struct kp_addr_rec *a;
	unsigned long addr;
	u32 insn;
	int ret;

	kp_for_each_addr(patch, a) {
		const char *name = kp_str(a->name);
		const char *user = a->user ? kp_str(a->user) : "the patch";

		if (strcmp(kp_str(a->objname), obj->name))
			continue;
		ret = kp_lookup(obj->name, obj->mod, name, a->sympos, &addr,
				NULL);
		if (ret) {
			pr_err("%s: %s takes the address of %s,%llu (%s), which cannot be found\n",
			       patch->name, user, name, a->sympos, obj->name);
			return ret;
		}
		if (copy_from_kernel_nofault(&insn, (void *)addr, sizeof(insn))) {
			pr_err("%s: %s takes the address of %pS, which cannot be read\n",
			       patch->name, user, (void *)addr);
			return -EFAULT;
		}
		if (insn == KP_ENDBR64)
			continue;
		pr_err("%s: %s takes the address of %pS, which starts with %4ph, not ENDBR64, in the running kernel (its ENDBR was sealed at boot or load, or it has none): an indirect call through that address would fault with #CP: refused\n",
		       patch->name, user, (void *)addr, &insn);
		return -EINVAL;
	}
	return 0;
}
