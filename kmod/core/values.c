// SPDX-License-Identifier: GPL-2.0
/*
 * values.c - opt-in transfer of a changed global's initial value
 * (KP_TRANSFER_VALUE, kmod/patch/kp-value.h; kp_value_rec in kp/abi.h).
 *
 * livepatch has no such thing: its patches change data in callbacks.  kp
 * lets diffgen carry the old and new initial value of each marked variable
 * and applies them at fixed points of the consistency model:
 *
 *   transfer  when a transition to the patch completes (every task runs the
 *             new code), before the post-patch callbacks; for a target
 *             module that comes while the patch is in force, right after it
 *             is patched, before its init runs.
 *   restore   when a disable starts (before any task can run the old code
 *             again), after the pre-unpatch callbacks.
 *
 * So the old code never sees the new value, and the new code must work
 * with both (it runs with the old one during both transitions).  A value
 * changed at run time is left alone: the new value is written only if the
 * live one still equals the old initial value (else "kept"), and the old
 * one only if the live one still equals the new value (else "left").  Each
 * check-and-write runs inside stop_machine: no CPU sees half an aggregate,
 * and no writer (a sysctl) runs between the check and the write.  NMI
 * handlers can still see a torn aggregate of more than 8 bytes.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/stop_machine.h>
#include "compat.h"
#include "cpus.h"
#include "kallsyms.h"
#include "symbols.h"
#include "values.h"

#define KP_REC_PTR(p) ((void *)(unsigned long)(p))

static const struct kp_value_rec *kp_vr_first(const struct kp_patch_rec *rec)
{
	return KP_REC_PTR(rec->values);
}

static const struct kp_value_rec *kp_vr_last(const struct kp_patch_rec *rec)
{
	return KP_REC_PTR(rec->values_end);
}

unsigned int kp_values_count(const struct kp_patch_rec *rec)
{
	if (kp_vr_last(rec) <= kp_vr_first(rec))
		return 0;
	return kp_vr_last(rec) - kp_vr_first(rec);
}

static struct kp_object *kp_value_object(struct kp_patch *patch,
					 const char *name)
{
	struct kp_object *obj;

	kp_for_each_object(patch, obj)
		if (!strcmp(obj->name, name))
			return obj;
	/* kp_init_patch sized patch->objs for one object per record. */
	obj->name = name;
	obj->patch = patch;
	patch->nr_objs++;
	return obj;
}

/* Build patch->values from the kp_values records, adding objects as needed. */
int kp_values_init(struct kp_patch *patch)
{
	unsigned int n = kp_values_count(patch->rec), i;
	const struct kp_value_rec *r = kp_vr_first(patch->rec);

	if (!n)
		return 0;
	patch->values = kcalloc(n, sizeof(*patch->values), GFP_KERNEL);
	if (!patch->values)
		return -ENOMEM;
	for (i = 0; i < n; i++, r++) {
		struct kp_value *v = &patch->values[i];

		if (!r->objname || !r->name || !r->size || r->size > KP_VALUE_MAX) {
			pr_err("%s: malformed kp_values record %u\n", patch->name, i);
			return -EINVAL;
		}
		v->rec = r;
		v->name = KP_REC_PTR(r->name);
		v->obj = kp_value_object(patch, KP_REC_PTR(r->objname));
	}
	patch->nr_values = n;
	return 0;
}

void kp_values_free(struct kp_patch *patch)
{
	kfree(patch->values);
}

/* Is [@addr, @addr + @size) of @obj plain writable data? */
static bool kp_value_writable(struct kp_object *obj, unsigned long addr,
			      unsigned long size)
{
	static const char * const bounds[][2] = {
		{ "_sdata", "_edata" }, { "__bss_start", "__bss_stop" },
	};
	unsigned long s, e;
	unsigned int i;

	if (obj->mod) {
		kp_mod_rw_data(obj->mod, &s, &e);
		return addr >= s && addr + size <= e;
	}
	for (i = 0; i < ARRAY_SIZE(bounds); i++) {
		if (kp_lookup(KP_OBJ_VMLINUX, NULL, bounds[i][0], 0, &s, NULL) ||
		    kp_lookup(KP_OBJ_VMLINUX, NULL, bounds[i][1], 0, &e, NULL))
			return false;
		if (addr >= s && addr + size <= e)
			return true;
	}
	return false;
}

/* Find the live variables of @obj's values (the object is loaded). */
int kp_values_resolve(struct kp_object *obj)
{
	struct kp_patch *patch = obj->patch;
	unsigned long addr, size, off, elf_size;
	struct kp_value *v;
	int ret;

	kp_for_each_value(patch, v) {
		if (v->obj != obj)
			continue;
		ret = kp_lookup(obj->name, obj->mod, v->name, v->rec->sympos,
				&addr, &elf_size);
		if (ret) {
			pr_err("%s: cannot find variable %s,%llu in %s\n",
			       patch->name, v->name, v->rec->sympos, obj->name);
			goto fail;
		}
		ret = -EINVAL;
		if (!kp_symbol_size(addr, &size, &off) || off ||
		    (elf_size ? elf_size != v->rec->size : size < v->rec->size)) {
			pr_err("%s: variable %s in %s is not the %llu-byte variable the patch was built for\n",
			       patch->name, v->name, obj->name, v->rec->size);
			goto fail;
		}
		if (!kp_value_writable(obj, addr, v->rec->size)) {
			pr_err("%s: variable %s in %s is not plain writable data (const, __ro_after_init or per-cpu?): its value cannot be transferred\n",
			       patch->name, v->name, obj->name);
			goto fail;
		}
		v->addr = (void *)addr;
		v->state = KP_VALUE_PENDING;
	}
	return 0;
fail:
	kp_values_unresolve(obj);
	return ret;
}

void kp_values_unresolve(struct kp_object *obj)
{
	struct kp_value *v;

	kp_for_each_value(obj->patch, v) {
		if (v->obj == obj) {
			v->addr = NULL;
			v->state = KP_VALUE_PENDING;
		}
	}
}

struct kp_values_pass {
	struct kp_patch *patch;
	struct kp_object *only;		/* NULL: every present object */
	bool transfer;			/* else restore */
};

/* Inside stop_machine: check and write each value (see the top comment). */
static int kp_values_fn(void *data)
{
	struct kp_values_pass *p = data;
	struct kp_value *v;

	kp_for_each_value(p->patch, v) {
		const void *from = p->transfer ? v->rec->old_value : v->rec->new_value;
		const void *to = p->transfer ? v->rec->new_value : v->rec->old_value;
		size_t n = v->rec->size;

		if (!v->addr || (p->only && v->obj != p->only))
			continue;
		/* A transfer skips what is in force, a restore what is not. */
		if (p->transfer == (v->state == KP_VALUE_TRANSFERRED))
			continue;
		v->changed = true;
		if (memcmp(v->addr, from, n)) {
			v->state = p->transfer ? KP_VALUE_KEPT : KP_VALUE_LEFT;
			continue;
		}
		memcpy(v->addr, to, n);
		v->state = p->transfer ? KP_VALUE_TRANSFERRED : KP_VALUE_RESTORED;
	}
	return 0;
}

/*
 * Check and write the values of @patch (of @only, when not NULL) that a
 * transfer (or a restore) has to look at: none, and no stop_machine runs (a
 * restore when nothing was transferred).  -ETIMEDOUT when a CPU does not
 * answer (cpus.c): nothing was written.
 */
static int kp_values_run(struct kp_patch *patch, struct kp_object *only,
			 bool transfer)
{
	struct kp_values_pass p = { patch, only, transfer };
	struct kp_value *v;
	bool any = false;
	int ret;

	lockdep_assert_held(&kp_mutex);
	kp_for_each_value(patch, v)
		any |= v->addr && (!only || v->obj == only) &&
		       transfer != (v->state == KP_VALUE_TRANSFERRED);
	if (!any)
		return 0;
	ret = kp_cpus_stop(kp_values_fn, &p, NULL);
	if (ret) {
		pr_err("%s: values not %s: a CPU does not answer\n",
		       patch->name, transfer ? "transferred" : "restored");
		return ret;
	}
	kp_for_each_value(patch, v) {
		if (!v->changed)
			continue;
		v->changed = false;
		if (v->state == KP_VALUE_KEPT)
			pr_warn("%s: %s in %s was changed at run time (not its old initial value): kept, not transferred\n",
				patch->name, v->name, v->obj->name);
		else if (v->state == KP_VALUE_LEFT)
			pr_warn("%s: %s in %s was changed while patched (not the transferred value): left, not restored\n",
				patch->name, v->name, v->obj->name);
		else
			pr_info("%s: %s in %s: %s value %s\n", patch->name,
				v->name, v->obj->name,
				transfer ? "new" : "old",
				transfer ? "transferred" : "restored");
	}
	return 0;
}

/*
 * The transition to @patch completed (or @only, a target module, was just
 * patched while the patch is in force): write the new values.
 */
int kp_values_transfer(struct kp_patch *patch, struct kp_object *only)
{
	return kp_values_run(patch, only, true);
}

/* A disable of @patch starts: put the old values back. */
int kp_values_restore(struct kp_patch *patch)
{
	return kp_values_run(patch, NULL, false);
}

