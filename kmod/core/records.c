// SPDX-License-Identifier: GPL-2.0
/*
 * records.c - where a patch module's records may point (issue 25, item 9).
 *
 * The core keeps the record pointers of a patch for as long as the patch
 * module is loaded: the callbacks and shadow destructors it calls, and the
 * strings it prints and compares (object, function and symbol names, the
 * target release and build ID).  A pointer into the module's init sections
 * (an __init callback, an __initconst name) is valid while the module's init
 * registers the patch and dangles once the init returned and the kernel freed
 * them; a pointer anywhere else is not the module's to give.  So at register,
 * before anything reads them, every callback and destructor must lie in the
 * module's core text and every string, with its terminating NUL, in its core
 * text or read-only data; the first that does not refuses the patch, naming
 * its record.  The replacement functions are checked where they are resolved
 * (core.c), with kp_in_core_text() below.
 *
 * livepatch needs no such check: its klp_patch, klp_object and klp_func are
 * built by the patch module's own C code, whose compiler and section
 * attributes the author answers for, and its callbacks are set the same way.
 * kp reads records that diffgen or a hand-written patch emitted, so it checks
 * them, as it checks the rest of the records (docs/architecture.md, "Trust
 * model").
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/string.h>
#include "compat.h"
#include "records.h"

/*
 * Is @addr in @mod's core text?  Not in its init text, which is freed once
 * the init returned, nor in its data.
 */
bool kp_in_core_text(struct module *mod, unsigned long addr)
{
	unsigned long base = kp_mod_text_start(mod);

	return addr >= base && addr - base < kp_mod_text_size(mod);
}

/* Is the string at @p, NUL included, in @mod's core text or rodata? */
static bool kp_in_core_ro(struct module *mod, __u64 p)
{
	unsigned long addr = (unsigned long)p;
	unsigned long room = kp_mod_core_room(mod, addr, true);

	if (!room)
		return false;
	room = min_t(unsigned long, room, KSYM_NAME_LEN);
	return strnlen((const char *)addr, room) < room;
}

/*
 * An array of records from @first to @last, in one core region of the module;
 * first == last (both 0 as lib/records reads them): none of that kind.
 */
static bool kp_in_core(struct module *mod, __u64 first, __u64 last)
{
	unsigned long room;

	if (first == last)
		return true;	/* none: nothing is read through them */
	if (first > last)
		return false;
	room = kp_mod_core_room(mod, (unsigned long)first, false);
	return room && last - first <= room;
}

#define KP_REC(type, rec, field) \
	((const type *)(unsigned long)(rec)->field)

/* Each string field of each record of one kind; @what names the record. */
static int kp_check_strings(struct module *mod, const char *what,
			    const void *first, const void *last, size_t size,
			    const size_t *offs, const char *const *names,
			    unsigned int nr_fields)
{
	const char *r;
	unsigned int f;

	for (r = first; r < (const char *)last; r += size) {
		for (f = 0; f < nr_fields; f++) {
			__u64 p = *(const __u64 *)(r + offs[f]);

			if (!p || kp_in_core_ro(mod, p))
				continue;
			pr_err("%s: %s record %zu: its %s (at %pS) is not a string in the patch module's core text or read-only data (an __initconst or writable one?)\n",
			       mod->name, what, (r - (const char *)first) / size,
			       names[f], (void *)(unsigned long)p);
			return -EINVAL;
		}
	}
	return 0;
}

#define KP_CHECK_STRINGS(mod, what, type, rec, field, ...)		\
({									\
	static const size_t offs[] = { __VA_ARGS__ };			\
	static const char *const names[] = { "object name", "name", "user" }; \
	kp_check_strings(mod, what, KP_REC(type, rec, field),		\
			 KP_REC(type, rec, field##_end), sizeof(type),	\
			 offs, names, ARRAY_SIZE(offs));		\
})

static int kp_check_callbacks(struct module *mod,
			      const struct kp_patch_rec *rec)
{
	const struct kp_callback_rec *first =
		KP_REC(struct kp_callback_rec, rec, callbacks);
	const struct kp_callback_rec *r;
	static const char *const kinds[] = {
		"pre_patch", "post_patch", "pre_unpatch", "post_unpatch"
	};
	unsigned int k;

	for (r = first; r < KP_REC(struct kp_callback_rec, rec, callbacks_end);
	     r++) {
		const __u64 fns[] = {
			r->pre_patch, r->post_patch, r->pre_unpatch,
			r->post_unpatch
		};

		for (k = 0; k < ARRAY_SIZE(fns); k++) {
			if (!fns[k] || kp_in_core_text(mod, fns[k]))
				continue;
			pr_err("%s: kp_callbacks record %td (%s): its %s callback %pS is not in the patch module's core text (an __init function?)\n",
			       mod->name, r - first,
			       r->objname && kp_in_core_ro(mod, r->objname) ?
			       (const char *)(unsigned long)r->objname : "?",
			       kinds[k], (void *)(unsigned long)fns[k]);
			return -EINVAL;
		}
	}
	return 0;
}

static int kp_check_shadows(struct module *mod, const struct kp_patch_rec *rec)
{
	const struct kp_shadow_rec *first =
		KP_REC(struct kp_shadow_rec, rec, shadows);
	const struct kp_shadow_rec *r;

	for (r = first; r < KP_REC(struct kp_shadow_rec, rec, shadows_end); r++) {
		if (!r->dtor || kp_in_core_text(mod, r->dtor))
			continue;
		pr_err("%s: kp_shadows record %td (id %llu): its destructor %pS is not in the patch module's core text (an __init function?)\n",
		       mod->name, r - first, r->id,
		       (void *)(unsigned long)r->dtor);
		return -EINVAL;
	}
	return 0;
}

/* The record arrays the kp_patch record bounds lie in the module's core. */
static int kp_check_bounds(struct module *mod, const struct kp_patch_rec *rec)
{
	const __u64 *b = &rec->funcs;
	const __u64 *end = &rec->addrs_end;

	for (; b < end; b += 2) {
		if (kp_in_core(mod, b[0], b[1]))
			continue;
		pr_err("%s: the kp_patch record's bounds %#llx..%#llx are not in the patch module's core\n",
		       mod->name, b[0], b[1]);
		return -EINVAL;
	}
	return 0;
}

/*
 * Before anything reads the records of @mod (its init is registering
 * @rec): refuse pointers that will not stay valid.
 */
int kp_records_check(struct module *mod, const struct kp_patch_rec *rec)
{
	const __u64 patch_strs[] = {
		rec->name, rec->target_release, rec->target_build_id
	};
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(patch_strs); i++) {
		if (kp_in_core_ro(mod, patch_strs[i]) || (!i && !rec->name))
			continue;	/* no name: the module's */
		pr_err("%s: kp_patch record: its name, target release or build ID is not a string in the patch module's core read-only data\n",
		       mod->name);
		return -EINVAL;
	}
	if (rec->set && (!kp_in_core_ro(mod, rec->set) ||
			 strlen((const char *)(unsigned long)rec->set) >
			 KP_SET_NAME_MAX)) {
		pr_err("%s: kp_patch record: its replace set is not a string of at most %d bytes in the patch module's core read-only data\n",
		       mod->name, KP_SET_NAME_MAX);
		return -EINVAL;
	}
	if (rec->flags & ~KP_PATCH_FLAGS) {
		pr_err("%s: kp_patch record: unknown flags %#llx (a newer kp-build?)\n",
		       mod->name, rec->flags & ~KP_PATCH_FLAGS);
		return -EINVAL;
	}
	ret = kp_check_bounds(mod, rec);
	if (!ret)
		ret = KP_CHECK_STRINGS(mod, "kp_funcs", struct kp_func_rec, rec,
				       funcs, offsetof(struct kp_func_rec, objname),
				       offsetof(struct kp_func_rec, name));
	if (!ret)
		ret = KP_CHECK_STRINGS(mod, "kp_syms", struct kp_sym_rec, rec,
				       syms, offsetof(struct kp_sym_rec, objname),
				       offsetof(struct kp_sym_rec, name));
	if (!ret)
		ret = KP_CHECK_STRINGS(mod, "kp_relocs", struct kp_reloc_rec,
				       rec, relocs,
				       offsetof(struct kp_reloc_rec, objname),
				       offsetof(struct kp_reloc_rec, name));
	if (!ret)
		ret = KP_CHECK_STRINGS(mod, "kp_values", struct kp_value_rec,
				       rec, values,
				       offsetof(struct kp_value_rec, objname),
				       offsetof(struct kp_value_rec, name));
	if (!ret)
		ret = KP_CHECK_STRINGS(mod, "kp_addrs", struct kp_addr_rec,
				       rec, addrs,
				       offsetof(struct kp_addr_rec, objname),
				       offsetof(struct kp_addr_rec, name),
				       offsetof(struct kp_addr_rec, user));
	if (!ret)
		ret = KP_CHECK_STRINGS(mod, "kp_callbacks",
				       struct kp_callback_rec, rec, callbacks,
				       offsetof(struct kp_callback_rec, objname));
	if (!ret)
		ret = kp_check_callbacks(mod, rec);
	if (!ret)
		ret = kp_check_shadows(mod, rec);
	return ret;
}
