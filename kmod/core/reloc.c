// SPDX-License-Identifier: GPL-2.0
/*
 * reloc.c - check the non-exported symbols a patch was built against
 * (kp_syms) and apply the relocations against module targets (kp_relocs).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/elf.h>
#include <linux/module.h>
#include "kallsyms.h"
#include "reloc.h"
#include "symbols.h"

#define KP_FOR_EACH_REC(rec, first, last) \
	for (rec = (first); rec < (last); rec++)

static const struct kp_sym_rec *kp_syms_begin(struct kp_patch *patch)
{
	return (const struct kp_sym_rec *)(unsigned long)patch->rec->syms;
}

static const struct kp_sym_rec *kp_syms_end(struct kp_patch *patch)
{
	return (const struct kp_sym_rec *)(unsigned long)patch->rec->syms_end;
}

static const struct kp_reloc_rec *kp_relocs_begin(struct kp_patch *patch)
{
	return (const struct kp_reloc_rec *)(unsigned long)patch->rec->relocs;
}

static const struct kp_reloc_rec *kp_relocs_end(struct kp_patch *patch)
{
	return (const struct kp_reloc_rec *)(unsigned long)
		patch->rec->relocs_end;
}

bool kp_patch_has_object(struct kp_patch *patch, const char *objname)
{
	struct kp_object *obj;

	kp_for_each_object(patch, obj)
		if (!strcmp(obj->name, objname))
			return true;
	return false;
}

/*
 * Refuse kp_syms and kp_relocs records of an object in which the patch
 * replaces no function: they would never be verified or applied.
 */
int kp_check_records(struct kp_patch *patch)
{
	const struct kp_sym_rec *s;
	const struct kp_reloc_rec *r;
	const char *objname;

	KP_FOR_EACH_REC(s, kp_syms_begin(patch), kp_syms_end(patch)) {
		objname = (const char *)(unsigned long)s->objname;
		if (!objname || !s->name || !kp_patch_has_object(patch, objname)) {
			pr_err("%s: kp_syms record of %s, an object the patch replaces no function in\n",
			       patch->name, objname ? objname : "(null)");
			return -EINVAL;
		}
	}
	KP_FOR_EACH_REC(r, kp_relocs_begin(patch), kp_relocs_end(patch)) {
		objname = (const char *)(unsigned long)r->objname;
		if (!objname || !r->name || !kp_patch_has_object(patch, objname)) {
			pr_err("%s: kp_relocs record of %s, an object the patch replaces no function in\n",
			       patch->name, objname ? objname : "(null)");
			return -EINVAL;
		}
	}
	return 0;
}

/* Every kp_sym_rec of @obj must resolve by name and sympos to its address. */
int kp_verify_syms(struct kp_patch *patch, struct kp_object *obj)
{
	const struct kp_sym_rec *s;
	unsigned long addr;
	int ret;

	KP_FOR_EACH_REC(s, kp_syms_begin(patch), kp_syms_end(patch)) {
		const char *objname = (const char *)(unsigned long)s->objname;
		const char *name = (const char *)(unsigned long)s->name;

		if (strcmp(objname, obj->name))
			continue;
		ret = kp_lookup(objname, obj->mod, name, s->sympos, &addr, NULL);
		if (ret) {
			pr_err("%s: symbol %s,%llu (%s) the patch refers to cannot be verified\n",
			       patch->name, name, s->sympos, objname);
			return ret;
		}
		if (addr != s->addr) {
			pr_err("%s: symbol %s,%llu (%s) is at %pS, the patch expects %pS\n",
			       patch->name, name, s->sympos, objname,
			       (void *)addr, (void *)(unsigned long)s->addr);
			return -EINVAL;
		}
	}
	return 0;
}

static bool kp_in_module(struct module *mod, unsigned long addr, size_t len)
{
	bool ret;

	preempt_disable();
	ret = within_module(addr, mod) && within_module(addr + len - 1, mod);
	preempt_enable();
	return ret;
}

/*
 * Apply the kp_relocs of @obj (present) to the patch module.  The destination
 * may be read-only (text or rodata of the patch module): text_poke() writes
 * through a temporary mapping, so no page is ever made writable.
 */
int kp_apply_relocs(struct kp_patch *patch, struct kp_object *obj)
{
	const struct kp_reloc_rec *r;
	bool poked = false;
	unsigned long sym;
	int ret;

	KP_FOR_EACH_REC(r, kp_relocs_begin(patch), kp_relocs_end(patch)) {
		const char *objname = (const char *)(unsigned long)r->objname;
		const char *name = (const char *)(unsigned long)r->name;
		void *dest = (void *)(unsigned long)r->dest;
		u64 val64;
		u32 val32;
		s64 v;
		size_t len;
		const void *src;

		if (strcmp(objname, obj->name))
			continue;
		ret = kp_lookup(objname, obj->mod, name, r->sympos, &sym, NULL);
		if (ret) {
			pr_err("%s: relocation against %s,%llu (%s) cannot be resolved\n",
			       patch->name, name, r->sympos, objname);
			return ret;
		}
		switch (r->type) {
		case R_X86_64_64:
			val64 = sym + r->addend;
			src = &val64;
			len = 8;
			break;
		case R_X86_64_PC32:
		case R_X86_64_PLT32:
			v = (s64)(sym + r->addend - (unsigned long)dest);
			if (v != (s32)v)
				goto overflow;
			val32 = (u32)v;
			src = &val32;
			len = 4;
			break;
		case R_X86_64_32S:
			v = (s64)(sym + r->addend);
			if (v != (s32)v)
				goto overflow;
			val32 = (u32)v;
			src = &val32;
			len = 4;
			break;
		default:
			pr_err("%s: relocation type %llu against %s (%s) is not supported\n",
			       patch->name, r->type, name, objname);
			return -EINVAL;
		}
		if (!kp_in_module(patch->mod, (unsigned long)dest, len)) {
			pr_err("%s: relocation against %s (%s) writes outside the patch module\n",
			       patch->name, name, objname);
			return -EINVAL;
		}
		kp_text_poke(dest, src, len);
		poked = true;
		continue;
overflow:
		pr_err("%s: relocation against %s (%s) overflows (type %llu)\n",
		       patch->name, name, objname, r->type);
		return -ERANGE;
	}
	/* Serialise every CPU against the new code, as text_poke()'s users do. */
	if (poked)
		kp_text_poke_sync();
	return 0;
}
