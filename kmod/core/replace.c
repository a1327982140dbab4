// SPDX-License-Identifier: GPL-2.0
/*
 * replace.c - cumulative patches (issue 27; livepatch: klp_patch.replace,
 * klp_add_nops(), klp_discard_replaced_patches(), klp_discard_nops()).
 *
 * Every patch belongs to one replace set (the default set unless kp-build
 * --set named one).  A replace patch (KP_PATCH_REPLACE) replaces every
 * enabled patch of its set, the targets, in one transition:
 *   - when it is enabled, each function a target changed and it does not gets
 *     a nop: a version of its own that runs the original code, pushed with its
 *     real versions, so the one transition moves every task from the targets'
 *     versions to the new state as a whole (a pending task keeps the version
 *     below: the target's);
 *   - the stack check of that transition treats as old code the old
 *     functions, the versions below (the targets') and the whole core text of
 *     every target's module (stack.c): once replaced, a target's module may
 *     go, so no task may still run any of its code, a helper included;
 *   - when the transition completes (kp_patch_settled()) the targets are
 *     disabled, without their unpatch callbacks, and their own probation
 *     ends; while the replace patch is on probation they are held: their
 *     versions stay below its heads and nops, where no caller reaches them,
 *     and their modules stay, so that a rollback (or any disable) of the
 *     replace patch returns every function to the targets' versions, which
 *     are enabled again (kp_replace_restore());
 *   - when its probation ends (at once without one) the targets are
 *     discarded: their versions and the nops leave the version stacks (the
 *     targets' first, below the heads, then the nops, so no caller ever sees
 *     a target's version come back) and their module references go: they
 *     are removable.  Their states were taken over by the check at enable
 *     (state.c); their shadow variables stay while a patch module that
 *     declares or uses the id is loaded (shadow.c).
 * A reversed or failed enable pops the nops with the rest and frees them.
 *
 * Where kp differs from livepatch: livepatch 6.1 checks only the replaced
 * functions' versions on the stacks, not the rest of the replaced modules'
 * code (a helper their versions call); kp checks their whole core text.
 * livepatch discards the replaced patches when the transition completes and
 * has no probation; kp holds them until the probation ends.  kp
 * patches also stack, so a set is what a replace patch replaces (upstream's
 * "replace_set" proposal); non-replace patches of the set are replaced too.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "passes.h"
#include "redirect.h"
#include "replace.h"

static bool kp_same_set(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/* Does replace patch @patch replace @p (kp_mutex held)? */
bool kp_replaces(struct kp_patch *patch, struct kp_patch *p)
{
	return patch->replace && p != patch && p->enabled && !p->removing &&
	       kp_same_set(patch->set, p->set);
}

unsigned int kp_replace_nr_targets(struct kp_patch *patch)
{
	struct kp_patch *p;
	unsigned int n = 0;

	list_for_each_entry(p, &kp_patches, node)
		n += kp_replaces(patch, p);
	return n;
}

/* Does @patch, or a nop made so far, already cover the old function at @addr? */
static bool kp_covered(struct kp_patch *patch, struct kp_func *nops,
		       unsigned int nr, unsigned long addr)
{
	struct kp_object *obj;
	struct kp_func *func;
	unsigned int i;

	kp_for_each_object(patch, obj)
		kp_for_each_func(obj, func)
			if (func->old_addr == addr)
				return true;
	for (i = 0; i < nr; i++)
		if (nops[i].old_addr == addr)
			return true;
	return false;
}

/*
 * The functions the targets changed and @patch does not, each once, into
 * @nops (NULL: count only).  Returns how many.
 */
static unsigned int kp_collect_nops(struct kp_patch *patch,
				    struct kp_func *nops)
{
	struct kp_object *obj;
	struct kp_func *func;
	struct kp_patch *p;
	unsigned int n = 0;

	list_for_each_entry(p, &kp_patches, node) {
		if (!kp_replaces(patch, p))
			continue;
		kp_for_each_object(p, obj) {
			kp_for_each_func(obj, func) {
				if (!func->patched ||
				    kp_covered(patch, nops, nops ? n : 0,
					       func->old_addr))
					continue;
				if (nops) {
					struct kp_func *nop = &nops[n];

					nop->obj = obj;	/* regrouped below */
					nop->name = func->name;
					nop->sympos = func->sympos;
					nop->old_addr = func->old_addr;
					nop->old_size = func->old_size;
					nop->ftrace_loc = func->ftrace_loc;
					/*
					 * Where the ftrace trampoline returns
					 * anyway: the original function after
					 * its __fentry__ call (livepatch's
					 * handler skips a nop instead).
					 */
					nop->new_addr = func->ftrace_loc +
							MCOUNT_INSN_SIZE;
					nop->new_size = 0;
					nop->nop = true;
					INIT_LIST_HEAD(&nop->stack_node);
				}
				n++;
			}
		}
	}
	return n;
}

/* Refuse targets kp cannot hand over yet; say why. */
static int kp_replace_check(struct kp_patch *patch)
{
	struct kp_patch *p;

	list_for_each_entry(p, &kp_patches, node) {
		if (!kp_replaces(patch, p) || !p->nr_values)
			continue;
		pr_err("%s: refused: it would replace patch %s, whose KP_TRANSFER_VALUE variables kp cannot hand over to a replace patch (unload %s first)\n",
		       patch->name, p->name, p->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * Before the enable of replace patch @patch (kp_mutex held, its present
 * objects resolved): make its nops, grouped in objects by target object.
 * They are attached and pushed with its own functions.
 */
int kp_replace_add_nops(struct kp_patch *patch)
{
	struct kp_func *tmp, *nops;
	struct kp_object *objs;
	unsigned int n, i, k, nr_objs = 0;
	int ret;

	if (!patch->replace)
		return 0;
	kfree(patch->replaced);	/* of an earlier enable */
	patch->replaced = NULL;
	ret = kp_replace_check(patch);
	if (ret)
		return ret;
	n = kp_collect_nops(patch, NULL);
	if (!n)
		return 0;
	tmp = kcalloc(n, sizeof(*tmp), GFP_KERNEL);
	nops = kcalloc(n, sizeof(*nops), GFP_KERNEL);
	objs = kcalloc(n, sizeof(*objs), GFP_KERNEL);
	if (!tmp || !nops || !objs) {
		ret = -ENOMEM;
		goto out;
	}
	n = kp_collect_nops(patch, tmp);	/* each function once */

	/* One nop object per target object, its nops contiguous. */
	for (i = 0, k = 0; i < n; i++) {
		struct kp_object *src = tmp[i].obj, *obj;
		unsigned int j;

		if (!src)
			continue;	/* taken with an earlier object */
		obj = &objs[nr_objs++];
		obj->patch = patch;
		obj->name = src->name;
		obj->mod = src->mod;
		obj->present = true;
		obj->funcs = &nops[k];
		for (j = i; j < n; j++) {
			if (!tmp[j].obj || strcmp(tmp[j].obj->name, src->name))
				continue;
			nops[k] = tmp[j];
			INIT_LIST_HEAD(&nops[k].stack_node);
			nops[k].obj = obj;
			tmp[j].obj = NULL;
			obj->nr_funcs++;
			k++;
		}
	}
	patch->nop_funcs = nops;
	patch->nop_objs = objs;
	patch->nr_nop_objs = nr_objs;
	pr_info("%s: replace: %u function(s) of the patches it replaces go back to the original code\n",
		patch->name, n);
	nops = NULL;
	objs = NULL;
out:
	kfree(tmp);
	kfree(nops);
	kfree(objs);
	return ret;
}

/*
 * Free the nops of @patch: none is on a version stack, and no handler can
 * still see one (after kp_synchronize(), or never pushed).
 */
void kp_replace_free_nops(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;
	unsigned int i;

	for (i = 0; i < patch->nr_nop_objs; i++) {
		obj = &patch->nop_objs[i];
		kp_for_each_func(obj, func)
			if (!WARN_ON(func->patched))
				kp_detach_func(func);
	}
	kfree(patch->nop_funcs);
	kfree(patch->nop_objs);
	patch->nop_funcs = NULL;
	patch->nop_objs = NULL;
	patch->nr_nop_objs = 0;
}

/* Add @name to the patches @patch replaced (sysfs "replaced"). */
static void kp_note_replaced(struct kp_patch *patch, const char *name)
{
	char *s = kasprintf(GFP_KERNEL, "%s%s\n",
			    patch->replaced ? patch->replaced : "", name);

	if (!s)
		return;		/* only the list shown in sysfs is shorter */
	kfree(patch->replaced);
	patch->replaced = s;
}

static bool kp_held_by(struct kp_patch *p, struct kp_patch *patch)
{
	return p->held && !strcmp(p->replaced_by, patch->name);
}

/*
 * Replace patch @patch is settled enabled, every task on its versions and
 * the nops' original code (kp_mutex held): its targets are replaced.  They
 * are disabled now, without their unpatch callbacks, but held: their
 * versions stay below @patch's heads and nops (no caller reaches them) and
 * their modules stay, so that a rollback of @patch during its probation
 * returns every function to them (kp_replace_restore()).  kp_replace_discard()
 * lets them go when the probation ends (at once without one).
 */
void kp_replace_hold(struct kp_patch *patch)
{
	struct kp_patch *p;

	if (!patch->replace)
		return;
	list_for_each_entry(p, &kp_patches, node) {
		if (!kp_replaces(patch, p))
			continue;
		p->enabled = false;
		p->held = true;
		strscpy(p->replaced_by, patch->name, sizeof(p->replaced_by));
		kp_note_replaced(patch, p->name);
		pr_info("%s: replaced by %s: disabled (its unpatch callbacks not run)\n",
			p->name, patch->name);
	}
}

/*
 * @patch was disabled (rolled back, or unloaded) while it held its targets:
 * its versions and nops are popped, every task runs the targets' versions
 * again, which never left the stacks; they are enabled again (kp_mutex
 * held).  Their probation does not start again.
 */
void kp_replace_restore(struct kp_patch *patch)
{
	struct kp_patch *p;

	list_for_each_entry(p, &kp_patches, node) {
		if (!kp_held_by(p, patch))
			continue;
		p->held = false;
		p->replaced_by[0] = '\0';
		p->enabled = true;
		pr_warn("%s: in force again: %s, which replaced it, was disabled\n",
			p->name, patch->name);
	}
	kfree(patch->replaced);
	patch->replaced = NULL;
}

/*
 * The probation of replace patch @patch is over (or it had none): discard
 * the targets it holds (kp_mutex held).  Their versions leave the stacks
 * first, all below a head of @patch, then its nops (a head that runs the
 * original code, as an empty stack does); once no handler can see them the
 * nops are freed and the targets' module references go: they are removable.
 */
void kp_replace_discard(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;
	struct kp_patch *p;
	unsigned int i;
	bool any = false;

	list_for_each_entry(p, &kp_patches, node) {
		if (!kp_held_by(p, patch))
			continue;
		any = true;
		kp_for_each_object(p, obj) {
			kp_for_each_func(obj, func)
				if (func->patched)
					kp_pop_version(func);
			obj->cb.patched = false;	/* no unpatch callbacks */
		}
	}
	if (!any && !patch->nr_nop_objs)
		return;
	for (i = 0; i < patch->nr_nop_objs; i++) {
		obj = &patch->nop_objs[i];
		kp_for_each_func(obj, func)
			if (func->patched)
				kp_pop_version(func);
	}
	kp_synchronize();
	kp_replace_free_nops(patch);
	list_for_each_entry(p, &kp_patches, node) {
		if (!kp_held_by(p, patch))
			continue;
		p->held = false;
		pr_info("%s: discarded: %s is in force for good; its module is removable\n",
			p->name, patch->name);
		module_put(p->mod);	/* its enable's reference */
	}
}
