// SPDX-License-Identifier: GPL-2.0
/*
 * module.c - module notifiers.
 *
 * kp_buildid_nb (highest priority) refuses a kp patch module built for
 * another kernel before anything of it is processed.  kp_target_nb applies the
 * enabled patches to a target module when it comes (before its init runs) and
 * removes them when it goes.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/slab.h>
#include "callbacks.h"
#include "core.h"
#include "module.h"
#include "passes.h"
#include "redirect.h"
#include "stack.h"
#include "symbols.h"
#include "transition.h"
#include "values.h"

/* A kp patch module (one defining __kp_patch) must target this kernel. */
static int kp_check_patch_module(struct module *mod)
{
	const struct kp_patch_rec *rec;
	unsigned long addr;

	if (!kp_module_has_symbol(mod, "__kp_patch", &addr))
		return 0;
	rec = (const struct kp_patch_rec *)addr;
	if (rec->magic != KP_PATCH_MAGIC) {
		pr_err("%s: refused: bad kp patch record magic\n", mod->name);
		return -EINVAL;
	}
	return kp_check_target(mod->name, rec);
}

/*
 * The modules whose COMING notification kp has seen and whose GOING it has
 * not (livepatch: mod->klp_alive), under kp_mutex.  A module in COMING state
 * that is not here may still fail in a notifier that runs before kp's, and
 * then kp would never hear of it again: it is patched by kp's own COMING
 * notification, never found and patched earlier.
 */
struct kp_alive_module {
	struct list_head node;
	struct module *mod;
};

static LIST_HEAD(kp_alive_modules);

static struct kp_alive_module *kp_find_alive(struct module *mod)
{
	struct kp_alive_module *a;

	list_for_each_entry(a, &kp_alive_modules, node)
		if (a->mod == mod)
			return a;
	return NULL;
}

/*
 * May a patch that is being enabled patch @mod (found by name, module_mutex
 * held) now?  Yes when it is live, or coming and kp's notifier has seen it.
 */
bool kp_module_alive(struct module *mod)
{
	lockdep_assert_held(&kp_mutex);
	return mod->state == MODULE_STATE_LIVE ||
	       (mod->state == MODULE_STATE_COMING && kp_find_alive(mod));
}

static void kp_forget_module(struct module *mod)
{
	struct kp_alive_module *a = kp_find_alive(mod);

	if (a) {
		list_del(&a->node);
		kfree(a);
	}
}

static int kp_buildid_notify(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	if (action != MODULE_STATE_COMING)
		return NOTIFY_DONE;
	return notifier_from_errno(kp_check_patch_module(data));
}

/* Remove every patch from @mod's functions and forget its addresses. */
static void kp_module_going(struct module *mod)
{
	struct kp_patch *patch;
	struct kp_object *obj;
	struct kp_func *func;
	bool popped = false;

	list_for_each_entry(patch, &kp_patches, node) {
		kp_for_each_object_all(patch, obj) {
			if (!obj->present || obj->mod != mod)
				continue;
			if (!kp_in_transition(patch))
				kp_object_pre_unpatch(obj);
			kp_for_each_func(obj, func) {
				if (func->patched) {
					kp_pop_version(func);
					popped = true;
				}
			}
		}
	}
	/* Before its memory can be reused: no check may match it any more. */
	kp_ranges_drop_module(mod);
	if (popped)
		kp_synchronize();
	list_for_each_entry(patch, &kp_patches, node) {
		kp_for_each_object_all(patch, obj) {
			if (!obj->present || obj->mod != mod)
				continue;
			kp_for_each_func(obj, func)
				kp_detach_func(func);
			kp_object_post_unpatch(obj);
			kp_object_unresolve(obj);
			pr_info("%s: %s unloaded, its functions are unpatched\n",
				patch->name, mod->name);
		}
	}
}

/*
 * Patch @mod for every enabled patch that targets it.  Its code has not run
 * yet, so the versions are pushed without a stack check.
 */
static int kp_module_coming(struct module *mod)
{
	struct kp_patch *patch;
	struct kp_object *obj;
	struct kp_func *func;
	int ret;

	/* kp_patches is in enable order: the last one pushed ends on top. */
	list_for_each_entry(patch, &kp_patches, node) {
		if (!patch->enabled && !kp_in_transition(patch))
			continue;
		kp_for_each_object(patch, obj) {
			if (obj->present || strcmp(obj->name, mod->name))
				continue;
			obj->mod = mod;
			ret = kp_object_resolve(obj);
			if (ret)
				goto fail;
			ret = kp_object_pre_patch(obj);
			if (ret)
				goto fail;
			kp_for_each_func(obj, func) {
				ret = kp_attach_func(func);
				if (ret)
					goto fail;
			}
			ret = kp_transition_push_object(patch, obj);
			if (ret)
				goto fail;
			/* One in transition gets it when the transition completes. */
			if (!kp_in_transition(patch)) {
				kp_values_transfer(patch, obj);
				kp_object_post_patch(obj);
			}
			pr_info("%s: applied to %s\n", patch->name, mod->name);
		}
	}
	return 0;
fail:
	pr_err("%s: cannot patch module %s (%d): refusing to load it\n",
	       patch->name, mod->name, ret);
	/* Undo what was applied to @mod, this patch's object included. */
	kp_module_going(mod);
	return ret;
}

static int kp_target_notify(struct notifier_block *nb, unsigned long action,
			    void *data)
{
	struct module *mod = data;
	int ret = 0;

	if (action != MODULE_STATE_COMING && action != MODULE_STATE_GOING)
		return NOTIFY_DONE;
	mutex_lock(&kp_mutex);
	if (action == MODULE_STATE_COMING) {
		struct kp_alive_module *a = kzalloc(sizeof(*a), GFP_KERNEL);

		ret = a ? kp_module_coming(mod) : -ENOMEM;
		if (!ret) {
			a->mod = mod;
			list_add(&a->node, &kp_alive_modules);
		} else {
			kfree(a);
		}
	} else {
		kp_module_going(mod);
		kp_forget_module(mod);
	}
	mutex_unlock(&kp_mutex);
	return notifier_from_errno(ret);
}

static struct notifier_block kp_buildid_nb = {
	.notifier_call = kp_buildid_notify,
	.priority = INT_MAX,
};

static struct notifier_block kp_target_nb = {
	.notifier_call = kp_target_notify,
	.priority = 0,
};

int kp_module_init(void)
{
	int ret;

	ret = register_module_notifier(&kp_buildid_nb);
	if (ret)
		return ret;
	ret = register_module_notifier(&kp_target_nb);
	if (ret)
		unregister_module_notifier(&kp_buildid_nb);
	return ret;
}

void kp_module_exit(void)
{
	struct kp_alive_module *a, *tmp;

	unregister_module_notifier(&kp_target_nb);
	unregister_module_notifier(&kp_buildid_nb);
	list_for_each_entry_safe(a, tmp, &kp_alive_modules, node)
		kfree(a);
}
