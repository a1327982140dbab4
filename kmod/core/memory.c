// SPDX-License-Identifier: GPL-2.0
/*
 * memory.c - kp_core's memory of rolled-back patches.
 *
 * A patch that probation rolled back (probation.c) is remembered by the GNU
 * build ID of its module, the identity of exactly those bytes: a rebuilt
 * fix has another.  While kp_core is loaded, a module with a remembered
 * build ID is refused when it registers (-ECANCELED), whatever its name.
 * /sys/kernel/kp/rolled_back lists the memory, one "build_id name why" line
 * per patch; root forgives one by writing "forget <build_id>" (kpctl load
 * --force does) or all with "clear".  kpctl keeps its own copy on disk, so
 * that the refusal survives a reboot.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include "build_id.h"
#include "memory.h"
#include "sysfs.h"

struct kp_memory {
	struct list_head node;
	char build_id[KP_BUILD_ID_HEX_MAX];
	char name[MODULE_NAME_LEN];
	char why[KP_WHY_MAX];
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

/* Remember that the patch in @mod was rolled back, and @why. */
int kp_memory_add(struct module *mod, const char *name, const char *why)
{
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
	mutex_lock(&kp_memory_mutex);
	if (kp_memory_find(m->build_id)) {
		mutex_unlock(&kp_memory_mutex);
		kfree(m);
		return 0;
	}
	list_add_tail(&m->node, &kp_memories);
	mutex_unlock(&kp_memory_mutex);
	return 0;
}

/* Was the patch in @mod rolled back?  Then copy why. */
bool kp_memory_why(struct module *mod, char *why, size_t len)
{
	char bid[KP_BUILD_ID_HEX_MAX];
	struct kp_memory *m;
	bool found = false;

	if (kp_module_build_id(mod, bid, sizeof(bid)))
		return false;
	mutex_lock(&kp_memory_mutex);
	m = kp_memory_find(bid);
	if (m) {
		strscpy(why, m->why, len);
		found = true;
	}
	mutex_unlock(&kp_memory_mutex);
	return found;
}

/* Refuse a patch module that was rolled back before. */
int kp_memory_check(struct module *mod, const char *name)
{
	char why[KP_WHY_MAX];

	if (!kp_memory_why(mod, why, sizeof(why)))
		return 0;
	pr_err("%s: refused: this module was rolled back (%s); write \"forget <build_id>\" to /sys/kernel/kp/rolled_back (kpctl load --force) to load it anyway\n",
	       name, why);
	return -ECANCELED;
}

static ssize_t rolled_back_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct kp_memory *m;
	ssize_t len = 0;

	mutex_lock(&kp_memory_mutex);
	list_for_each_entry(m, &kp_memories, node)
		len += sysfs_emit_at(buf, len, "%s %s %s\n", m->build_id,
				     m->name, m->why);
	mutex_unlock(&kp_memory_mutex);
	return len;
}

/* "forget <build_id>" or "clear". */
static ssize_t rolled_back_store(struct kobject *kobj,
				 struct kobj_attribute *attr, const char *buf,
				 size_t count)
{
	struct kp_memory *m, *tmp;
	char bid[KP_BUILD_ID_HEX_MAX];
	bool all = sysfs_streq(buf, "clear");
	int ret = all ? 0 : -ENOENT;

	if (!all) {
		if (strncmp(buf, "forget ", 7))
			return -EINVAL;
		strscpy(bid, buf + 7, sizeof(bid));
		strim(bid);
	}
	mutex_lock(&kp_memory_mutex);
	list_for_each_entry_safe(m, tmp, &kp_memories, node) {
		if (!all && strcasecmp(m->build_id, bid))
			continue;
		pr_notice("%s: rollback forgotten (build ID %s)\n", m->name,
			  m->build_id);
		list_del(&m->node);
		kfree(m);
		ret = 0;
	}
	mutex_unlock(&kp_memory_mutex);
	return ret ? ret : count;
}

static struct kobj_attribute kp_rolled_back_attr =
	__ATTR(rolled_back, 0644, rolled_back_show, rolled_back_store);

int kp_memory_init(void)
{
	return sysfs_create_file(kp_sysfs_root(), &kp_rolled_back_attr.attr);
}

void kp_memory_exit(void)
{
	struct kp_memory *m, *tmp;

	sysfs_remove_file(kp_sysfs_root(), &kp_rolled_back_attr.attr);
	list_for_each_entry_safe(m, tmp, &kp_memories, node)
		kfree(m);
}
