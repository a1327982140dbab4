// SPDX-License-Identifier: GPL-2.0
/*
 * core.c - kp_core.ko: registry of kp patches, kp_register_patch() and
 * kp_unregister_patch() called by patch modules, enabling and disabling.
 *
 * A patch registers from its module init.  The core checks its build ID,
 * resolves and checks every old function, verifies the symbols the patch was
 * linked against, applies relocations, attaches ftrace handlers and starts
 * the transition that switches it on (transition.c), which either completes
 * at once or goes on task by task after the init returned.  Any failure
 * before the transition starts undoes everything, so the patch module's init
 * fails with nothing patched.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/utsname.h>
#include "build_id.h"
#include "callbacks.h"
#include "canary.h"
#include "core.h"
#include "cpus.h"
#include "fault.h"
#include "kallsyms.h"
#include "kp_patch.h"
#include "lockup.h"
#include "memory.h"
#include "module.h"
#include "params.h"
#include "passes.h"
#include "probation.h"
#include "stragglers.h"
#include "records.h"
#include "redirect.h"
#include "ibt.h"
#include "reloc.h"
#include "replace.h"
#include "shadow.h"
#include "state.h"
#include "symbols.h"
#include "sysfs.h"
#include "transition.h"
#include "values.h"

DEFINE_MUTEX(kp_mutex);
LIST_HEAD(kp_patches);

static const char *kp_str(__u64 p)
{
	return (const char *)(unsigned long)p;
}

static void *kp_ptr(__u64 p)
{
	return (void *)(unsigned long)p;
}

/*
 * Refuse a patch built for another kernel: the one check of the target, run
 * by the module notifier before anything of a patch module is processed and
 * again when it registers.
 */
int kp_check_target(const char *name, const struct kp_patch_rec *rec)
{
	char *running;
	int ret;

	running = kmalloc(KP_BUILD_ID_HEX_MAX, GFP_KERNEL);
	if (!running)
		return -ENOMEM;
	ret = kp_vmlinux_build_id(running, KP_BUILD_ID_HEX_MAX);
	if (ret)
		goto out;
	if (!rec->target_build_id || strcasecmp(running, kp_str(rec->target_build_id))) {
		pr_err("%s: refused: built for kernel build ID %s, the running kernel is %s\n",
		       name, rec->target_build_id ? kp_str(rec->target_build_id) : "(none)",
		       running);
		ret = -EINVAL;
		goto out;
	}
	if (rec->target_release &&
	    strcmp(kp_str(rec->target_release), init_utsname()->release)) {
		pr_err("%s: refused: built for kernel release %s, the running kernel is %s\n",
		       name, kp_str(rec->target_release), init_utsname()->release);
		ret = -EINVAL;
	}
out:
	kfree(running);
	return ret;
}

/*
 * Does the running function have the size the patch was built for?  Module
 * symbols carry their ELF size, which must match exactly.  For vmlinux,
 * kallsyms only knows the distance to the next symbol: the ELF size plus the
 * alignment padding plus any code without a symbol of its own (the body of a
 * __weak function that another object overrides stays in the image), so the
 * function must fit in that distance.  That the image is the one the patch
 * was built for is what the build ID check guarantees.
 */
static bool kp_size_matches(unsigned long want, unsigned long elf_size,
			    unsigned long distance)
{
	if (elf_size)
		return elf_size == want;
	return want && want <= distance;
}

/* Resolve the old functions of @obj (loaded, obj->mod set for modules). */
int kp_object_resolve(struct kp_object *obj)
{
	struct kp_patch *patch = obj->patch;
	unsigned long addr, size, off, elf_size;
	struct kp_func *func, *prev;
	int ret;

	kp_for_each_func(obj, func) {
		ret = kp_lookup(obj->name, obj->mod, func->name, func->sympos,
				&addr, &elf_size);
		if (ret) {
			pr_err("%s: cannot find function %s,%lu in %s\n",
			       patch->name, func->name, func->sympos, obj->name);
			goto fail;
		}
		if (!kp_symbol_size(addr, &size, &off) || off) {
			pr_err("%s: no size for function %s in %s\n",
			       patch->name, func->name, obj->name);
			ret = -ENOENT;
			goto fail;
		}
		if (!kp_size_matches(func->rec->old_size, elf_size, size)) {
			pr_err("%s: function %s,%lu in %s has size %lu, the patch was built for size %llu\n",
			       patch->name, func->name, func->sympos, obj->name,
			       elf_size ? elf_size : size, func->rec->old_size);
			ret = -EINVAL;
			goto fail;
		}
		func->ftrace_loc = kp_ftrace_location(addr);
		if (!func->ftrace_loc || func->ftrace_loc >= addr + size) {
			pr_err("%s: function %s in %s has no ftrace entry (notrace?)\n",
			       patch->name, func->name, obj->name);
			ret = -EINVAL;
			goto fail;
		}
		for (prev = obj->funcs; prev < func; prev++) {
			if (prev->old_addr == addr) {
				pr_err("%s: function %s in %s is replaced twice\n",
				       patch->name, func->name, obj->name);
				ret = -EINVAL;
				goto fail;
			}
		}
		func->old_addr = addr;
		func->old_size = size;
	}

	ret = kp_verify_syms(patch, obj);
	if (ret)
		goto fail;
	ret = kp_verify_addrs(patch, obj);
	if (ret)
		goto fail;
	ret = kp_apply_relocs(patch, obj);
	if (ret)
		goto fail;
	ret = kp_values_resolve(obj);
	if (ret)
		goto fail;
	obj->present = true;
	return 0;
fail:
	kp_object_unresolve(obj);
	return ret;
}

void kp_object_unresolve(struct kp_object *obj)
{
	struct kp_func *func;

	kp_for_each_func(obj, func) {
		func->old_addr = 0;
		func->old_size = 0;
		func->ftrace_loc = 0;
	}
	kp_values_unresolve(obj);
	obj->present = false;
	obj->mod = NULL;
}

/* Find the loaded objects of @patch that are not resolved yet and resolve them. */
static int kp_resolve_loaded(struct kp_patch *patch)
{
	struct kp_object *obj;
	int ret;

	kp_for_each_object(patch, obj) {
		if (obj->present)
			continue;
		if (!kp_is_vmlinux(obj->name)) {
			struct module *mod;

			kp_module_lock();
			mod = kp_find_module(obj->name);
			if (mod && !kp_module_alive(mod))
				mod = NULL;
			kp_module_unlock();
			if (!mod)
				continue;	/* patched when it loads */
			obj->mod = mod;
		}
		ret = kp_object_resolve(obj);
		if (ret)
			return ret;
	}
	return 0;
}

static void kp_detach_all(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;

	kp_for_each_object_all(patch, obj)
		kp_for_each_func(obj, func)
			if (!func->patched)
				kp_detach_func(func);
}

/*
 * Start switching @patch on.  Holds a reference on the patch module from here
 * until the patch is settled disabled again (kp_patch_settled).
 */
int kp_enable_patch(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;
	int ret;

	lockdep_assert_held(&kp_mutex);
	if (patch->replaced_by[0]) {
		pr_err("%s: cannot enable: it was replaced by %s; unload it, or load it again\n",
		       patch->name, patch->replaced_by);
		return -EINVAL;
	}
	if (!try_module_get(patch->mod))
		return -ENODEV;

	ret = kp_states_check(patch);
	if (ret)
		goto fail;
	ret = kp_resolve_loaded(patch);
	if (ret)
		goto fail;
	/* Callbacks only when the transition can start (livepatch's order). */
	ret = kp_transition_busy(patch, true);
	if (ret)
		goto fail;
	ret = kp_replace_add_nops(patch);	/* issue 27 */
	if (ret)
		goto fail;
	ret = kp_pre_patch_callbacks(patch);
	if (ret)
		goto fail;
	kp_for_each_object_all(patch, obj) {
		if (!obj->present)
			continue;
		kp_for_each_func(obj, func) {
			ret = kp_attach_func(func);
			if (ret)
				goto fail_callbacks;
		}
	}
	/* The newest enabled patch goes last: modules that come push in this order. */
	list_move_tail(&patch->node, &kp_patches);
	ret = kp_canary_enable(patch);	/* a canary if one is armed (issue 16) */
	if (ret)
		goto fail_callbacks;
	return 0;
fail_callbacks:
	kp_post_callbacks(patch, false);
fail:
	kp_detach_all(patch);
	kp_replace_free_nops(patch);
	module_put(patch->mod);
	return ret;
}

/*
 * Start switching @patch off.  The ftrace handlers stay registered (doing
 * nothing for this patch) until the patch module goes: enabling and
 * disabling then only change version stacks, without patching call sites or
 * creating and freeing ftrace trampolines while the functions are called.
 *
 * Nothing is left half-done (issue 25, item 8): what the transition's start
 * allocates is allocated before the pre-unpatch callbacks, so a disable
 * without memory is refused before anything ran.  When the transition cannot
 * start after them all the same (tasks forking faster than the table grows,
 * a CPU that does not answer: cpus.c, or no memory for a bigger table) the
 * patch stays enabled as it was: the values go back (none was restored if no
 * CPU answered) and the post-patch callbacks run again.  livepatch cannot
 * fail there (__klp_disable_patch() allocates nothing after its callbacks);
 * kp's first pass stops the machine.
 */
int kp_disable_patch(struct kp_patch *patch)
{
	struct kp_trans_start *st;
	int ret;

	lockdep_assert_held(&kp_mutex);
	if (kp_in_transition(patch) || kp_transition_other(patch))
		return kp_transition(patch, false);	/* reverses, or -EBUSY */
	/* Allocated before the callbacks: no memory, nothing ran. */
	st = kp_transition_prepare(patch, false);
	if (!st) {
		pr_err("%s: cannot disable: %d\n", patch->name, -ENOMEM);
		return -ENOMEM;
	}
	kp_pre_unpatch_callbacks(patch);
	/* Before any task can run the old code again (values.c). */
	ret = kp_values_restore(patch);
	if (!ret)
		ret = kp_transition_start(patch, false, st);
	else
		kp_transition_unprepare(st);
	if (ret) {
		/* Still enabled: undo what the start did. */
		if (kp_values_transfer(patch, NULL))
			pr_crit("%s: enabled with its values restored: a CPU does not answer\n",
				patch->name);
		kp_post_callbacks(patch, true);
	}
	return ret;
}

/*
 * Roll @patch back (probation.c, kp_mutex held): a disable that is never
 * reversed (issue 25), as a canary abort: reversing would switch every task
 * back to code judged broken.  On its timeout the transition reports its
 * blockers and goes on kicking them (transition.c); root may force it.
 * livepatch has no rollback; its disable reverses like any transition.
 */
int kp_rollback_patch(struct kp_patch *patch)
{
	int ret;

	/* Replaced meanwhile (replace.c): held, tried again; or nothing left. */
	if (patch->held)
		return -EBUSY;
	if (!patch->enabled && !kp_in_transition(patch)) {
		kp_probation_settled(patch, false);
		return 0;
	}

	patch->rolling_back = true;
	ret = kp_disable_patch(patch);
	if (ret)
		patch->rolling_back = false;
	return ret;
}

/*
 * Replace patch @patch is in force (replace.c): its targets' own probation
 * ends (a target that held patches of its own lets them go), and they are
 * held for a rollback of @patch.
 */
static void kp_replace_settled(struct kp_patch *patch)
{
	struct kp_patch *p;

	list_for_each_entry(p, &kp_patches, node)
		if (kp_replaces(patch, p))
			kp_probation_set(p, 0);
	kp_replace_hold(patch);
}

/* A transition of @patch ended (completed or reversed) in state @enabled. */
void kp_patch_settled(struct kp_patch *patch, bool enabled)
{
	patch->rolling_back = false;
	patch->enabled = enabled;
	patch->transition = KP_IDLE;
	if (enabled) {
		kp_replace_settled(patch);
	} else {
		/* Back to the patches it replaced; its nops popped with the rest. */
		kp_replace_restore(patch);
		kp_replace_free_nops(patch);
	}
	if (enabled)	/* every task runs the new code (values.c) */
		kp_values_transfer(patch, NULL);
	kp_post_callbacks(patch, enabled);
	kp_probation_settled(patch, enabled);	/* issue 16 */
	if (enabled && !kp_probation_left(patch))
		kp_replace_discard(patch);	/* no probation to wait for */
	if (!enabled)
		module_put(patch->mod);
}

/*
 * The probation of @patch ended without a rollback (probation.c, kp_mutex
 * held): the patches it replaced go for good, unless a transition of it is
 * in progress (its end decides: kp_patch_settled()).
 */
void kp_patch_probation_over(struct kp_patch *patch)
{
	lockdep_assert_held(&kp_mutex);
	if (patch->enabled && !kp_in_transition(patch))
		kp_replace_discard(patch);
}

static struct kp_object *kp_get_object(struct kp_patch *patch,
				       const char *name)
{
	struct kp_object *obj;

	kp_for_each_object(patch, obj)
		if (!strcmp(obj->name, name))
			return obj;
	return NULL;
}

/* Build the objects and functions of @patch from its records. */
static int kp_init_patch(struct kp_patch *patch)
{
	const struct kp_patch_rec *rec = patch->rec;
	const struct kp_func_rec *first, *last, *f;
	unsigned int nr, i;
	struct kp_func *funcs;

	first = (const struct kp_func_rec *)(unsigned long)rec->funcs;
	last = (const struct kp_func_rec *)(unsigned long)rec->funcs_end;
	nr = last > first ? last - first : 0;
	if (!nr && !kp_values_count(rec)) {
		pr_err("%s: the patch replaces no function\n", patch->name);
		return -EINVAL;
	}

	/*
	 * One object per function at most, plus one per callback and value
	 * record.
	 */
	patch->objs = kcalloc(nr + kp_callbacks_count(rec) + kp_values_count(rec),
			      sizeof(*patch->objs), GFP_KERNEL);
	funcs = kcalloc(nr, sizeof(*funcs), GFP_KERNEL);
	patch->funcs = funcs;
	if (!patch->objs || !funcs)
		return -ENOMEM;

	/* Objects in record order; each object's functions contiguous. */
	for (f = first; f < last; f++) {
		const char *objname = kp_str(f->objname);

		if (!f->objname || !f->name || !f->new_func) {
			pr_err("%s: malformed kp_funcs record %td\n",
			       patch->name, f - first);
			return -EINVAL;
		}
		if (!kp_get_object(patch, objname)) {
			patch->objs[patch->nr_objs].name = objname;
			patch->objs[patch->nr_objs].patch = patch;
			patch->nr_objs++;
		}
	}
	i = 0;
	for (nr = 0; nr < patch->nr_objs; nr++) {
		struct kp_object *obj = &patch->objs[nr];

		obj->funcs = &funcs[i];
		for (f = first; f < last; f++) {
			struct kp_func *func = &funcs[i];
			unsigned long size = f->new_size, off;

			if (strcmp(kp_str(f->objname), obj->name))
				continue;
			func->obj = obj;
			func->rec = f;
			func->name = kp_str(f->name);
			func->sympos = f->sympos;
			func->new_addr = f->new_func;
			if (!kp_in_core_text(patch->mod, func->new_addr)) {
				pr_err("%s: the replacement of %s is not in the patch module's core text\n",
				       patch->name, func->name);
				return -EINVAL;
			}
			if (!size && (!kp_symbol_size(func->new_addr, &size, &off) || off))
				size = 1;
			func->new_size = size;
			INIT_LIST_HEAD(&func->stack_node);
			obj->nr_funcs++;
			i++;
		}
	}
	i = kp_callbacks_init(patch);
	i = i ?: kp_values_init(patch);
	if (i)
		return i;
	return kp_check_records(patch) ?: kp_check_addr_records(patch);
}

/* The end of a patch's life: with its last sysfs reference, if it had any. */
void kp_patch_free(struct kp_patch *patch)
{
	kp_values_free(patch);
	kfree(patch->replaced);
	kfree(patch->funcs);
	kfree(patch->objs);
	kfree(patch->blocked);
	kfree(patch);
}

static void kp_free_patch(struct kp_patch *patch)
{
	if (patch->kobj_added)
		kp_sysfs_del_patch(patch);	/* kp_patch_free() on the last put */
	else
		kp_patch_free(patch);
}

static struct kp_patch *kp_find_patch(const char *name)
{
	struct kp_patch *patch;

	list_for_each_entry(patch, &kp_patches, node)
		if (!strcmp(patch->name, name))
			return patch;
	return NULL;
}

int kp_register_patch(struct module *mod, const struct kp_patch_rec *rec,
		      unsigned int timeout_s)
{
	struct kp_patch *patch;
	const char *name;
	int ret;

	if (!mod || !rec || rec->magic != KP_PATCH_MAGIC) {
		pr_err("%s: not a kp patch record (bad magic)\n",
		       mod ? mod->name : "?");
		return -EINVAL;
	}
	if (rec->abi_version != KP_ABI_VERSION) {
		pr_err("%s: patch ABI version %llu, kp_core supports %d\n",
		       mod->name, rec->abi_version, KP_ABI_VERSION);
		return -EINVAL;
	}
	ret = kp_records_check(mod, rec);	/* issue 25: before any is read */
	if (ret)
		return ret;
	name = rec->name ? kp_str(rec->name) : mod->name;

	ret = kp_check_target(name, rec);
	if (ret)
		return ret;
	ret = kp_memory_check(mod, name);	/* issue 16: rolled back before */
	if (ret)
		return ret;

	patch = kzalloc(sizeof(*patch), GFP_KERNEL);
	if (!patch)
		return -ENOMEM;
	patch->mod = mod;
	patch->rec = rec;
	patch->name = name;
	patch->build_id = kp_str(rec->target_build_id);
	patch->set = rec->set ? kp_str(rec->set) : NULL;
	patch->replace = rec->flags & KP_PATCH_REPLACE;
	patch->timeout_s = timeout_s ? timeout_s : kp_timeout_s;
	INIT_LIST_HEAD(&patch->node);

	ret = kp_probation_policy(patch);
	if (!ret)
		ret = kp_stragglers_policy(patch);
	if (!ret)
		ret = kp_init_patch(patch);
	if (ret) {
		kp_free_patch(patch);
		return ret;
	}

	mutex_lock(&kp_mutex);
	if (kp_find_patch(name)) {
		pr_err("%s: a patch of that name is already loaded\n", name);
		mutex_unlock(&kp_mutex);
		kp_free_patch(patch);
		return -EEXIST;
	}
	ret = kp_shadow_declare(mod, kp_ptr(rec->shadows), kp_ptr(rec->shadows_end));
	if (ret)
		goto fail;
	ret = kp_sysfs_add_patch(patch);
	if (ret)
		goto fail;
	list_add_tail(&patch->node, &kp_patches);
	ret = kp_enable_patch(patch);
	if (ret) {
		list_del(&patch->node);
		goto fail;
	}
	/*
	 * Taint from the load on, and mark the module (K in /proc/modules),
	 * as the module loader does for a livepatch module.
	 */
	set_bit(TAINT_LIVEPATCH, &mod->taints);
	add_taint(TAINT_LIVEPATCH, LOCKDEP_STILL_OK);
	mutex_unlock(&kp_mutex);
	return 0;
fail:
	patch->removing = true;
	mutex_unlock(&kp_mutex);
	pr_err("%s: patch refused (%d), nothing patched\n", name, ret);
	kp_shadow_release(mod, name);
	kp_free_patch(patch);
	return ret;
}
EXPORT_SYMBOL_GPL(kp_register_patch);

void kp_unregister_patch(struct module *mod, const struct kp_patch_rec *rec)
{
	struct kp_patch *patch, *found = NULL;

	mutex_lock(&kp_mutex);
	list_for_each_entry(patch, &kp_patches, node) {
		if (patch->rec == rec && patch->mod == mod) {
			found = patch;
			break;
		}
	}
	if (!found) {
		mutex_unlock(&kp_mutex);
		return;
	}
	/*
	 * Cannot happen: a patch that is enabled or in transition holds a
	 * reference on its module.
	 */
	WARN_ON(found->enabled || kp_in_transition(found));
	kp_detach_all(found);
	list_del(&found->node);
	found->removing = true;
	mutex_unlock(&kp_mutex);

	kp_synchronize();
	kp_shadow_release(mod, found->name);
	kp_free_patch(found);
}
EXPORT_SYMBOL_GPL(kp_unregister_patch);

static int __init kp_core_init(void)
{
	int ret;

	ret = kp_kallsyms_init();
	if (ret)
		return ret;
	ret = kp_transition_init();
	if (ret)
		return ret;
	ret = kp_canary_init();
	if (ret)
		goto err_transition;
	ret = kp_module_init();
	if (ret)
		goto err_canary;
	/* Probation, then what reports to it; the lockup hooks are optional. */
	kp_probation_init();
	ret = kp_fault_init();
	if (ret)
		goto err_probation;
	kp_lockup_init();
	ret = kp_sysfs_init();
	if (ret)
		goto err_fault;
	pr_info("ready\n");
	return 0;

err_fault:
	kp_lockup_exit();
	kp_fault_exit();
err_probation:
	kp_probation_exit();
	kp_module_exit();
err_canary:
	kp_canary_exit();
err_transition:
	kp_transition_exit();
	return ret;
}

static void __exit kp_core_exit(void)
{
	kp_sysfs_exit();
	kp_fault_inject_exit();
	kp_lockup_exit();
	kp_fault_exit();
	kp_probation_exit();
	kp_memory_exit();
	kp_module_exit();
	kp_canary_exit();
	kp_transition_exit();
	kp_cpus_exit();
	kp_redirect_cleanup();
	kp_shadow_exit();
}

module_init(kp_core_init);
module_exit(kp_core_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kp live-patching core");
