// SPDX-License-Identifier: GPL-2.0
/*
 * callbacks.c - per-object callbacks with livepatch's semantics
 * (kernel/livepatch/core.h, transition.c):
 *
 *   pre_patch     before the object is patched: before the transition of an
 *                 enable starts, or when a target module comes (before its
 *                 init).  A failure refuses the enable (nothing patched,
 *                 the patch module's init fails) or the module's load.
 *   post_patch    once the object is patched: when the enable transition
 *                 completes, or right after a coming module was patched (a
 *                 module that joins a transition gets it at its end).
 *   pre_unpatch   before the object is unpatched: before a disable
 *                 transition starts, or when a target module goes.
 *   post_unpatch  once it is unpatched: when a disable (or a reversed
 *                 enable) completes, or after a going module was unpatched;
 *                 only for an object whose pre_patch succeeded.
 *
 * Callbacks run only while their object is loaded, under kp_mutex, in
 * process context.  Where kp differs: pre_unpatch, like post_unpatch, runs
 * only for an object whose pre_patch succeeded (the object is patched);
 * livepatch calls it for every loaded object of an enabled patch.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "callbacks.h"
#include "kp_patch.h"

#define KP_FN(p) ((void *)(unsigned long)(p))

static const struct kp_callback_rec *kp_cb_first(const struct kp_patch_rec *rec)
{
	return (const struct kp_callback_rec *)(unsigned long)rec->callbacks;
}

static const struct kp_callback_rec *kp_cb_last(const struct kp_patch_rec *rec)
{
	return (const struct kp_callback_rec *)(unsigned long)rec->callbacks_end;
}

unsigned int kp_callbacks_count(const struct kp_patch_rec *rec)
{
	if (kp_cb_last(rec) <= kp_cb_first(rec))
		return 0;
	return kp_cb_last(rec) - kp_cb_first(rec);
}

/* Set one kind of callback of @obj; each kind once per object. */
static int kp_set_cb(struct kp_object *obj, void **slot, __u64 fn,
		     const char *kind)
{
	if (!fn)
		return 0;
	if (*slot) {
		pr_err("%s: two %s callbacks for %s\n", obj->patch->name, kind,
		       obj->name);
		return -EINVAL;
	}
	*slot = KP_FN(fn);
	return 0;
}

/*
 * Attach the kp_callbacks records to the objects of @patch, adding an object
 * without functions for a callback of an object the patch replaces nothing
 * in (kp_init_patch sized patch->objs for that).
 */
int kp_callbacks_init(struct kp_patch *patch)
{
	const struct kp_callback_rec *r;
	struct kp_object *obj;
	int ret = 0;

	for (r = kp_cb_first(patch->rec); r < kp_cb_last(patch->rec); r++) {
		const char *name = KP_FN(r->objname);

		if (!name) {
			pr_err("%s: kp_callbacks record %td has no object name\n",
			       patch->name, r - kp_cb_first(patch->rec));
			return -EINVAL;
		}
		kp_for_each_object(patch, obj)
			if (!strcmp(obj->name, name))
				break;
		if (obj == patch->objs + patch->nr_objs) {
			obj->name = name;
			obj->patch = patch;
			patch->nr_objs++;
		}
		ret = ret ?: kp_set_cb(obj, &obj->cb.pre_patch, r->pre_patch,
				       "pre-patch");
		ret = ret ?: kp_set_cb(obj, &obj->cb.post_patch, r->post_patch,
				       "post-patch");
		ret = ret ?: kp_set_cb(obj, &obj->cb.pre_unpatch, r->pre_unpatch,
				       "pre-unpatch");
		ret = ret ?: kp_set_cb(obj, &obj->cb.post_unpatch,
				       r->post_unpatch, "post-unpatch");
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The task running a callback, NULL when none (written under kp_mutex): what
 * the callback may call that needs the lock asks (kp_in_callback()).
 */
static struct task_struct *kp_cb_task;

/* Before a callback of @obj runs: its argument, and who runs it. */
static struct kp_callback_object *kp_cb_arg(struct kp_object *obj)
{
	lockdep_assert_held(&kp_mutex);
	WRITE_ONCE(kp_cb_task, current);
	obj->cb.arg.name = obj->name;
	obj->cb.arg.mod = obj->mod;
	obj->cb.arg.patch = obj->patch->name;
	return &obj->cb.arg;
}

/* After it returned. */
static void kp_cb_done(void)
{
	WRITE_ONCE(kp_cb_task, NULL);
}

/*
 * Is current inside a callback, kp_mutex held on its behalf?  A check that
 * also holds without lockdep (Debian's kernels have none).
 */
bool kp_in_callback(void)
{
	return READ_ONCE(kp_cb_task) == current;
}

int kp_object_pre_patch(struct kp_object *obj)
{
	int ret = 0;

	lockdep_assert_held(&kp_mutex);
	if (obj->cb.pre_patch) {
		ret = ((kp_pre_patch_t)obj->cb.pre_patch)(kp_cb_arg(obj));
		kp_cb_done();
		if (ret)
			pr_err("%s: pre-patch callback for %s failed: %d\n",
			       obj->patch->name, obj->name, ret);
	}
	obj->cb.patched = !ret;
	return ret;
}

void kp_object_post_patch(struct kp_object *obj)
{
	if (obj->cb.patched && obj->cb.post_patch) {
		((kp_callback_t)obj->cb.post_patch)(kp_cb_arg(obj));
		kp_cb_done();
	}
}

void kp_object_pre_unpatch(struct kp_object *obj)
{
	if (obj->cb.patched && obj->cb.pre_unpatch) {
		((kp_callback_t)obj->cb.pre_unpatch)(kp_cb_arg(obj));
		kp_cb_done();
	}
}

void kp_object_post_unpatch(struct kp_object *obj)
{
	if (obj->cb.patched && obj->cb.post_unpatch) {
		((kp_callback_t)obj->cb.post_unpatch)(kp_cb_arg(obj));
		kp_cb_done();
	}
	obj->cb.patched = false;
}

/*
 * The pre-patch callbacks of the loaded objects of @patch; on a failure the
 * ones that succeeded get their post-unpatch (livepatch: klp_cancel_transition).
 */
int kp_pre_patch_callbacks(struct kp_patch *patch)
{
	struct kp_object *obj;
	int ret;

	kp_for_each_object(patch, obj) {
		if (!obj->present)
			continue;
		ret = kp_object_pre_patch(obj);
		if (ret) {
			kp_post_callbacks(patch, false);
			return ret;
		}
	}
	return 0;
}

void kp_pre_unpatch_callbacks(struct kp_patch *patch)
{
	struct kp_object *obj;

	kp_for_each_object(patch, obj)
		if (obj->present)
			kp_object_pre_unpatch(obj);
}

/* A transition of @patch completed in state @enabled. */
void kp_post_callbacks(struct kp_patch *patch, bool enabled)
{
	struct kp_object *obj;

	kp_for_each_object(patch, obj) {
		if (!obj->present)
			continue;
		if (enabled)
			kp_object_post_patch(obj);
		else
			kp_object_post_unpatch(obj);
	}
}

