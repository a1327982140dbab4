// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - /sys/kernel/kp and its tree: one file per sysfs directory.
 * Here: the directories (a kobject per patch, object and function) and the
 * files of two of them:
 *   /sys/kernel/kp/shadow       ro  "<id> <count>" of the live shadow
 *                                   variables (shadow.c)
 *   /sys/kernel/kp/canary       rw  write "NAME PID..." to arm a canary,
 *                                   "NAME" to disarm; reads the armed one
 *                                   (canary.c)
 *   /sys/kernel/kp/rolled_back  rw  "<build_id> <name> confirmed|unconfirmed
 *                                   <why>" per remembered patch; write
 *                                   "forget <build_id>", "confirm
 *                                   <build_id>" or "clear" (memory.c)
 *   /sys/kernel/kp/<patch>/<object>/<function>,<sympos>/{old_addr,new_addr}
 * The files of /sys/kernel/kp/<patch>/ are sysfs_patch.c's.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/wait.h>
#include "build_id.h"
#include "canary.h"
#include "memory.h"
#include "params.h"
#include "shadow.h"
#include "sysfs.h"

static struct kobject *kp_root_kobj;

#define to_patch(k) container_of(k, struct kp_patch, kobj)
#define to_func(k) container_of(k, struct kp_func, kobj)

/* "<id> <variables>" per id that has any. */
static ssize_t shadow_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	unsigned long ids[32], counts[32];
	unsigned int i, nr;
	ssize_t len = 0;

	nr = kp_shadow_count(ids, counts, ARRAY_SIZE(ids));
	for (i = 0; i < nr; i++)
		len += sysfs_emit_at(buf, len, "%lu %lu\n", ids[i], counts[i]);
	return len;
}

/* "NAME PID..." arms, "NAME" disarms. */
static ssize_t canary_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	int ret = kp_canary_arm(buf, count);

	return ret ? ret : count;
}

static ssize_t canary_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	const struct kp_canary_set *set;
	unsigned int i;
	ssize_t len = 0;

	mutex_lock(&kp_mutex);
	set = kp_canary_armed_set();
	if (set) {
		len = sysfs_emit(buf, "%s", set->name);
		for (i = 0; i < set->nr; i++)
			len += sysfs_emit_at(buf, len, " %d", pid_vnr(set->pids[i]));
		len += sysfs_emit_at(buf, len, "\n");
	}
	mutex_unlock(&kp_mutex);
	return len;
}

static void kp_rolled_back_emit(const char *build_id, const char *name,
				const char *why, bool confirmed, void *data)
{
	struct kp_sysfs_page *pg = data;

	pg->len += sysfs_emit_at(pg->buf, pg->len, "%s %s %s %s\n", build_id,
				 name, confirmed ? "confirmed" : "unconfirmed",
				 why);
}

static ssize_t rolled_back_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct kp_sysfs_page pg = { .buf = buf };

	kp_memory_walk(kp_rolled_back_emit, &pg);
	return pg.len;
}

/* "forget <build_id>", "confirm <build_id>" or "clear". */
static ssize_t rolled_back_store(struct kobject *kobj,
				 struct kobj_attribute *attr, const char *buf,
				 size_t count)
{
	char bid[KP_BUILD_ID_HEX_MAX];
	int ret;

	if (sysfs_streq(buf, "clear")) {
		ret = kp_memory_forget(NULL);
	} else if (!strncmp(buf, "confirm ", 8)) {
		strscpy(bid, buf + 8, sizeof(bid));
		strim(bid);
		ret = kp_memory_confirm(bid);
	} else {
		if (strncmp(buf, "forget ", 7))
			return -EINVAL;
		strscpy(bid, buf + 7, sizeof(bid));
		strim(bid);
		ret = kp_memory_forget(bid);
	}
	return ret ? ret : count;
}

static struct kobj_attribute shadow_attr = __ATTR_RO(shadow);
/* Who may load what: root only. */
static struct kobj_attribute canary_attr = __ATTR(canary, 0600, canary_show,
						  canary_store);
/* The rollbacks' causes name tasks (pid, comm, uid): root only. */
static struct kobj_attribute rolled_back_attr = __ATTR(rolled_back, 0600,
						       rolled_back_show,
						       rolled_back_store);

static struct attribute *kp_root_attrs[] = {
	&shadow_attr.attr,
	&canary_attr.attr,
	&rolled_back_attr.attr,
	NULL
};

static const struct attribute_group kp_root_group = {
	.attrs = kp_root_attrs,
};

static ssize_t old_addr_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	struct kp_func *func = to_func(kobj);
	unsigned long addr;

	mutex_lock(&kp_mutex);
	addr = func->old_addr;
	mutex_unlock(&kp_mutex);
	return sysfs_emit(buf, "0x%lx\n", addr);
}

static ssize_t new_addr_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "0x%lx\n", to_func(kobj)->new_addr);
}

static struct kobj_attribute old_addr_attr = __ATTR(old_addr, 0400,
						    old_addr_show, NULL);
static struct kobj_attribute new_addr_attr = __ATTR(new_addr, 0400,
						    new_addr_show, NULL);

static struct attribute *kp_func_attrs[] = {
	&old_addr_attr.attr,
	&new_addr_attr.attr,
	NULL
};
ATTRIBUTE_GROUPS(kp_func);

/*
 * The kobjects of this module whose release has not run yet: the module's
 * exit waits for them (a release may be delayed: DEBUG_KOBJECT_RELEASE).
 */
static atomic_t kp_kobjs = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(kp_kobjs_wq);

static void kp_kobj_released(void)
{
	if (atomic_dec_and_test(&kp_kobjs))
		wake_up_all(&kp_kobjs_wq);
}

static void kp_patch_release(struct kobject *kobj)
{
	kp_patch_free(to_patch(kobj));
	kp_kobj_released();
}

/*
 * Objects and functions live in the arrays of their patch, freed with it:
 * each holds a reference on the patch's kobject until its own release, so
 * the patch's release, which frees the arrays, comes after the last of
 * theirs, however late (livepatch: a child's cleanup drops its parent's
 * reference; kp drops the directories at once with kobject_del(), which
 * drops it early, so it takes one of its own).  kobject_cleanup() no longer
 * touches the kobject after the release.
 */
static void kp_object_release(struct kobject *kobj)
{
	struct kp_object *obj = container_of(kobj, struct kp_object, kobj);

	kobject_put(&obj->patch->kobj);
	kp_kobj_released();
}

static void kp_func_release(struct kobject *kobj)
{
	kobject_put(&to_func(kobj)->obj->patch->kobj);
	kp_kobj_released();
}

static struct kobj_type kp_patch_ktype = {
	.release = kp_patch_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kp_patch_groups,
};

static struct kobj_type kp_object_ktype = {
	.release = kp_object_release,
	.sysfs_ops = &kobj_sysfs_ops,
};

static struct kobj_type kp_func_ktype = {
	.release = kp_func_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kp_func_groups,
};

int kp_sysfs_add_patch(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;
	int ret;

	atomic_inc(&kp_kobjs);
	ret = kobject_init_and_add(&patch->kobj, &kp_patch_ktype, kp_root_kobj,
				   "%s", patch->name);
	patch->kobj_added = true;
	if (ret)
		goto err;
	kp_for_each_object(patch, obj) {
		/* Each child's reference on the patch: its release drops it. */
		atomic_inc(&kp_kobjs);
		kobject_get(&patch->kobj);
		ret = kobject_init_and_add(&obj->kobj, &kp_object_ktype,
					   &patch->kobj, "%s", obj->name);
		if (ret) {
			kobject_put(&obj->kobj);
			goto err;
		}
		kp_for_each_func(obj, func) {
			atomic_inc(&kp_kobjs);
			kobject_get(&patch->kobj);
			ret = kobject_init_and_add(&func->kobj, &kp_func_ktype,
						   &obj->kobj, "%s,%lu",
						   func->name, func->sympos);
			if (ret) {
				kobject_put(&func->kobj);
				goto err;
			}
		}
	}
	return 0;
err:
	pr_err("%s: cannot create its sysfs directory: %d\n", patch->name, ret);
	return ret;
}

/*
 * Drop the sysfs tree of @patch; frees @patch with the last reference, its
 * children's included.  The files go at once (kobject_del): they read the
 * patch module's data, which goes with the module even if a release is
 * delayed.
 */
void kp_sysfs_del_patch(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;

	kp_for_each_object(patch, obj) {
		kp_for_each_func(obj, func) {
			if (func->kobj.state_in_sysfs) {
				kobject_del(&func->kobj);
				kp_fault_inject_put(&func->kobj);
			}
		}
		if (obj->kobj.state_in_sysfs) {
			kobject_del(&obj->kobj);
			kp_fault_inject_put(&obj->kobj);
		}
	}
	if (patch->kobj.state_in_sysfs)
		kobject_del(&patch->kobj);
	kobject_put(&patch->kobj);
}

int kp_sysfs_init(void)
{
	kp_root_kobj = kobject_create_and_add("kp", kernel_kobj);
	if (!kp_root_kobj) {
		pr_err("cannot create /sys/kernel/kp\n");
		return -ENOMEM;
	}
	if (sysfs_create_group(kp_root_kobj, &kp_root_group)) {
		kobject_put(kp_root_kobj);
		return -ENOMEM;
	}
	return 0;
}

/* After every patch went: wait for their kobjects' releases (this code). */
void kp_sysfs_exit(void)
{
	wait_event(kp_kobjs_wq, !atomic_read(&kp_kobjs));
	kobject_put(kp_root_kobj);
}
