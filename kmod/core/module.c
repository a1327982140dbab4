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
#include "kp_core.h"

static int kp_check_patch_module(struct module *mod)
{
	const struct kp_patch_rec *rec;
	unsigned long addr;
	char *running;
	const char *want;
	int ret = 0;

	if (!kp_module_has_symbol(mod, "__kp_patch", &addr))
		return 0;
	rec = (const struct kp_patch_rec *)addr;
	if (rec->magic != KP_PATCH_MAGIC) {
		pr_err("%s: refused: bad kp patch record magic\n", mod->name);
		return -EINVAL;
	}
	running = kmalloc(KP_BUILD_ID_HEX_MAX, GFP_KERNEL);
	if (!running)
		return -ENOMEM;
	ret = kp_vmlinux_build_id(running, KP_BUILD_ID_HEX_MAX);
	if (ret)
		goto out;
	want = rec->target_build_id ?
		(const char *)(unsigned long)rec->target_build_id : "(none)";
	if (strcasecmp(want, running)) {
		pr_err("%s: refused: built for kernel build ID %s, the running kernel is %s\n",
		       mod->name, want, running);
		ret = -EINVAL;
	}
out:
	kfree(running);
	return ret;
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
	unsigned int i, j;
	bool popped = false;

	list_for_each_entry(patch, &kp_patches, node) {
		for (i = 0; i < patch->nr_objs; i++) {
			struct kp_object *obj = &patch->objs[i];

			if (!obj->present || obj->mod != mod)
				continue;
			for (j = 0; j < obj->nr_funcs; j++) {
				if (obj->funcs[j].applied) {
					kp_pop_version(&obj->funcs[j]);
					popped = true;
				}
			}
		}
	}
	if (popped)
		kp_synchronize();
	list_for_each_entry(patch, &kp_patches, node) {
		for (i = 0; i < patch->nr_objs; i++) {
			struct kp_object *obj = &patch->objs[i];

			if (!obj->present || obj->mod != mod)
				continue;
			for (j = 0; j < obj->nr_funcs; j++)
				kp_detach_func(&obj->funcs[j]);
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
	unsigned int i, j;
	int ret;

	/* kp_patches is in enable order: the last one pushed ends on top. */
	list_for_each_entry(patch, &kp_patches, node) {
		if (!patch->enabled && !kp_in_transition(patch))
			continue;
		for (i = 0; i < patch->nr_objs; i++) {
			struct kp_object *obj = &patch->objs[i];

			if (obj->present || strcmp(obj->name, mod->name))
				continue;
			obj->mod = mod;
			ret = kp_object_resolve(obj);
			if (ret)
				goto fail;
			for (j = 0; j < obj->nr_funcs; j++) {
				ret = kp_attach_func(&obj->funcs[j]);
				if (ret)
					goto fail;
			}
			ret = kp_transition_push_object(patch, obj);
			if (ret)
				goto fail;
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
	if (action == MODULE_STATE_COMING)
		ret = kp_module_coming(mod);
	else
		kp_module_going(mod);
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
	unregister_module_notifier(&kp_target_nb);
	unregister_module_notifier(&kp_buildid_nb);
}
