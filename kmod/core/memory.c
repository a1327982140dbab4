// SPDX-License-Identifier: GPL-2.0
/*
 * memory.c - kp_core's memory of rolled-back patches.
 *
 * A patch that probation rolled back (probation.c) is remembered by the GNU
 * build ID of its module, the identity of exactly those bytes: a rebuilt
 * fix has another.  While kp_core is loaded, a module with a remembered
 * build ID is refused when it registers (-ECANCELED), whatever its name.
 * /sys/kernel/kp/rolled_back (sysfs.c) lists the memory, one "build_id name
 * confirmed|unconfirmed why" line per patch; root forgives one by writing
 * "forget <build_id>" (kpctl load --force does) or all with "clear".  kpctl
 * keeps its own copy of the confirmed ones on disk, so that the refusal
 * survives a reboot.
 *
 * A rollback that a task other than root triggered (probation.c) is
 * remembered unconfirmed: listed, but refusing nothing, in the core and in
 * kpctl, until root writes "confirm <build_id>" (kpctl confirm).  Otherwise
 * any user who can make a fix's new code fault during its probation could
 * keep the fix out of the kernel for good.  Loading the module again
 * forgets an unconfirmed rollback (kp_memory_check()).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "build_id.h"
#include "memory.h"

struct kp_memory {
	struct list_head node;
	char build_id[KP_BUILD_ID_HEX_MAX];
	char name[MODULE_NAME_LEN];
	char why[KP_WHY_MAX];
	bool confirmed;			/* refuses the module */
};

static LIST_HEAD(kp_memories);
static DEFINE_MUTEX(kp_memory_mutex);

static struct kp_memory *kp_memory_find(const char *build_id)
{
	struct kp_memory *m;

	list_for_each_entry(m, &kp_memories, node)
		if (!strcmp(m->build_id, build_id))
			return m;
	return NULL;
}

/*
 * Remember that the patch in @mod was rolled back, and @why; @confirmed: root
 * triggered it, the module is refused from now on.
 */
int kp_memory_add(struct module *mod, const char *name, const char *why,
		  bool confirmed)
{
	struct kp_memory *old;
	struct kp_memory *m;
	int ret;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	ret = kp_module_build_id(mod, m->build_id, sizeof(m->build_id));
	if (ret) {
		pr_err("%s: no build ID in the module: its rollback cannot be remembered\n",
		       name);
		kfree(m);
		return ret;
	}
	strscpy(m->name, name, sizeof(m->name));
	strscpy(m->why, why, sizeof(m->why));
	m->confirmed = confirmed;
	mutex_lock(&kp_memory_mutex);
	old = kp_memory_find(m->build_id);
	if (old) {
		if (confirmed && !old->confirmed) {
			memcpy(old->why, m->why, sizeof(old->why));
			old->confirmed = true;
		}
		mutex_unlock(&kp_memory_mutex);
		kfree(m);
		return 0;
	}
	list_add_tail(&m->node, &kp_memories);
	mutex_unlock(&kp_memory_mutex);
	return 0;
}

/*
 * Was the patch in @mod rolled back?  Then copy why, and whether root
 * confirmed it (@confirmed may be NULL: only confirmed ones count).
 */
bool kp_memory_why(struct module *mod, char *why, size_t len, bool *confirmed)
{
	char bid[KP_BUILD_ID_HEX_MAX];
	struct kp_memory *m;
	bool found = false;

	if (kp_module_build_id(mod, bid, sizeof(bid)))
		return false;
	mutex_lock(&kp_memory_mutex);
	m = kp_memory_find(bid);
	if (m && (confirmed || m->confirmed)) {
		strscpy(why, m->why, len);
		if (confirmed)
			*confirmed = m->confirmed;
		found = true;
	}
	mutex_unlock(&kp_memory_mutex);
	return found;
}

/*
 * Refuse a patch module that was rolled back before, confirmed.  Loading one
 * whose rollback is unconfirmed is root's answer to it: it is forgotten, so
 * that this load's own probation starts clean.
 */
int kp_memory_check(struct module *mod, const char *name)
{
	char why[KP_WHY_MAX], bid[KP_BUILD_ID_HEX_MAX];
	bool confirmed;

	if (!kp_memory_why(mod, why, sizeof(why), &confirmed))
		return 0;
	if (!confirmed) {
		pr_notice("%s: loaded again: its unconfirmed rollback is forgotten (%s)\n",
			  name, why);
		if (!kp_module_build_id(mod, bid, sizeof(bid)))
			kp_memory_forget(bid);
		return 0;
	}
	pr_err("%s: refused: this module was rolled back (%s); write \"forget <build_id>\" to /sys/kernel/kp/rolled_back (kpctl load --force) to load it anyway\n",
	       name, why);
	return -ECANCELED;
}

/*
 * Call @fn on every remembered patch: its module's build ID, its name and
 * why it was rolled back.
 */
void kp_memory_walk(kp_memory_fn fn, void *data)
{
	struct kp_memory *m;

	mutex_lock(&kp_memory_mutex);
	list_for_each_entry(m, &kp_memories, node)
		fn(m->build_id, m->name, m->why, m->confirmed, data);
	mutex_unlock(&kp_memory_mutex);
}

/* Forget the patch whose module has @build_id (any case), or all (NULL). */
int kp_memory_forget(const char *build_id)
{
	struct kp_memory *m, *tmp;
	int ret = build_id ? -ENOENT : 0;

	mutex_lock(&kp_memory_mutex);
	list_for_each_entry_safe(m, tmp, &kp_memories, node) {
		if (build_id && strcasecmp(m->build_id, build_id))
			continue;
		pr_notice("%s: rollback forgotten (build ID %s)\n", m->name,
			  m->build_id);
		list_del(&m->node);
		kfree(m);
		ret = 0;
	}
	mutex_unlock(&kp_memory_mutex);
	return ret;
}

/* Root confirms the rollback of the module with @build_id: refuse it. */
int kp_memory_confirm(const char *build_id)
{
	struct kp_memory *m;
	int ret = -ENOENT;

	mutex_lock(&kp_memory_mutex);
	list_for_each_entry(m, &kp_memories, node) {
		if (strcasecmp(m->build_id, build_id))
			continue;
		if (!m->confirmed)
			pr_notice("%s: rollback confirmed by root (build ID %s): the module is refused from now on\n",
				  m->name, m->build_id);
		m->confirmed = true;
		ret = 0;
	}
	mutex_unlock(&kp_memory_mutex);
	return ret;
}

void kp_memory_exit(void)
{
	struct kp_memory *m, *tmp;

	list_for_each_entry_safe(m, tmp, &kp_memories, node)
		kfree(m);
}
