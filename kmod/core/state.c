// SPDX-License-Identifier: GPL-2.0
/*
 * state.c - system states (livepatch: kernel/livepatch/state.c, klp_state):
 * a patch declares, with an id and a version, each state it creates or
 * takes over (a shadow variable, a changed setting).  A patch may be enabled
 * only when it declares every state of the patches in force, at the same or
 * a higher version: a patch that does not know a state could not keep it
 * right.  Livepatch checks this for atomic-replace patches; kp patches stack,
 * so kp checks it against every enabled patch (or one in transition).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "callbacks.h"
#include "kp_patch.h"
#include "replace.h"
#include "state.h"

static const struct kp_state_rec *kp_find_state(struct kp_patch *patch,
						unsigned long id)
{
	const struct kp_state_rec *s;

	kp_for_each_state(patch->rec, s)
		if (s->id == id)
			return s;
	return NULL;
}

static bool kp_patch_in_force(struct kp_patch *patch)
{
	return patch->enabled || patch->transition != KP_IDLE;
}

/* May @patch be enabled with the states of the patches in force? */
int kp_states_check(struct kp_patch *patch)
{
	const struct kp_state_rec *old, *new;
	struct kp_patch *p;

	lockdep_assert_held(&kp_mutex);
	list_for_each_entry(p, &kp_patches, node) {
		if (p == patch || !kp_patch_in_force(p))
			continue;
		kp_for_each_state(p->rec, old) {
			new = kp_find_state(patch, old->id);
			if (!new && kp_replaces(patch, p)) {
				/* livepatch: klp_is_patch_compatible() */
				pr_err("%s: refused: it would replace patch %s, which created state %llu (version %llu); a replace patch must declare every state of the patches it replaces\n",
				       patch->name, p->name, old->id, old->version);
				return -EINVAL;
			}
			if (!new) {
				pr_err("%s: refused: patch %s created state %llu (version %llu), which this patch does not declare\n",
				       patch->name, p->name, old->id, old->version);
				return -EINVAL;
			}
			if (new->version < old->version) {
				pr_err("%s: refused: patch %s has state %llu at version %llu, this patch knows version %llu only\n",
				       patch->name, p->name, old->id,
				       old->version, new->version);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int __kp_state_prev_version(struct module *self, unsigned long id)
{
	const struct kp_state_rec *s;
	struct kp_patch *p;
	int version = -ENOENT;

	/*
	 * From a callback only: it walks kp_patches, which kp_mutex guards and
	 * a callback alone holds.  livepatch's klp_get_prev_state() only
	 * WARNs outside a transition; kp refuses, on every kernel.
	 */
	if (!kp_in_callback()) {
		pr_err_ratelimited("%s: kp_state_prev_version() outside a callback: refused\n",
				   self->name);
		return -EPERM;
	}
	lockdep_assert_held(&kp_mutex);
	list_for_each_entry(p, &kp_patches, node) {
		if (p->mod == self || !kp_patch_in_force(p))
			continue;
		s = kp_find_state(p, id);
		if (s && (int)s->version > version)
			version = s->version;
	}
	return version;
}
EXPORT_SYMBOL_GPL(__kp_state_prev_version);

