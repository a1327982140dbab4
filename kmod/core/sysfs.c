// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - /sys/kernel/kp/<patch>/ and its files:
 *   enabled        rw  the state the patch is in or heads for; writing the
 *                      other value during a transition reverses it
 *   transition     ro  idle | enabling | disabling | canary
 *   transition_ms  ro  elapsed time of the transition in progress
 *   pending        ro  number of tasks not switched yet
 *   pending_tasks  ro  "pid comm function+off/size" of each of them
 *   timeout        rw  seconds before a transition reverses
 *   force          rw  write 1: switch every pending task now (unsafe; the
 *                      patch module can no longer be removed); reads 0/1
 *   blocked        ro  tasks that held the last transition that timed out
 *   build_id       ro  the kernel build ID the patch was built for
 *   callbacks      ro  "<object> <kind>..." per object with callbacks
 *   states         ro  "<id> <version>" per state the patch declares
 *   shadow_ids     ro  the shadow variable ids the patch module uses
 *   values         ro  "<object> <variable>,<sympos> <size> <state> <old> ->
 *                      <new>" per KP_TRANSFER_VALUE variable (values.c)
 * /sys/kernel/kp/shadow  ro  "<id> <count>" of the live shadow variables,
 * and /sys/kernel/kp/<patch>/<object>/<function>,<sympos>/{old_addr,new_addr}.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include "callbacks.h"
#include "canary.h"
#include "pending.h"
#include "shadow.h"
#include "state.h"
#include "probation.h"
#include "sysfs.h"
#include "transition.h"
#include "values.h"

static struct kobject *kp_root_kobj;

#define to_patch(k) container_of(k, struct kp_patch, kobj)
#define to_func(k) container_of(k, struct kp_func, kobj)

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_patch(kobj)->enabled));
}

/* Parse a boolean and run @op on the patch under kp_mutex. */
static ssize_t kp_bool_store(struct kobject *kobj, const char *buf,
			     size_t count,
			     int (*op)(struct kp_patch *patch, bool val))
{
	struct kp_patch *patch = to_patch(kobj);
	bool val;
	int ret;

	ret = kstrtobool(buf, &val);
	if (ret)
		return ret;
	mutex_lock(&kp_mutex);
	ret = patch->removing ? -ENODEV : op(patch, val);
	mutex_unlock(&kp_mutex);
	return ret ? ret : count;
}

static int kp_set_enabled(struct kp_patch *patch, bool val)
{
	if (kp_in_transition(patch))
		return kp_transition(patch, val);
	if (val == patch->enabled)
		return 0;
	return val ? kp_enable_patch(patch) : kp_disable_patch(patch);
}

static ssize_t enabled_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	return kp_bool_store(kobj, buf, count, kp_set_enabled);
}

static ssize_t transition_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	static const char * const names[] = {
		[KP_IDLE] = "idle",
		[KP_ENABLING] = "enabling",
		[KP_DISABLING] = "disabling",
		[KP_CANARY] = "canary",
	};

	return sysfs_emit(buf, "%s\n", names[READ_ONCE(to_patch(kobj)->transition)]);
}

static ssize_t transition_ms_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	u64 ms;

	mutex_lock(&kp_mutex);
	ms = kp_transition_elapsed_ms(to_patch(kobj));
	mutex_unlock(&kp_mutex);
	return sysfs_emit(buf, "%llu\n", ms);
}

/* Room kept at the end of the page for the "... N more" line. */
#define KP_MORE_ROOM	32

/*
 * Append one line to the sysfs page @buf if it fits whole, with room left
 * for a final "... N more"; false when it does not.
 */
static __printf(3, 4) bool kp_emit_line(char *buf, ssize_t *len,
					 const char *fmt, ...)
{
	char line[KSYM_SYMBOL_LEN + TASK_COMM_LEN + 32];
	va_list args;
	int n;

	va_start(args, fmt);
	n = vscnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	if (*len + n > PAGE_SIZE - KP_MORE_ROOM)
		return false;
	memcpy(buf + *len, line, n);
	*len += n;
	return true;
}

/*
 * "pid comm function+off/size [module]" for every pending task of @patch, as
 * many as fit in the page, then "... N more" if some did not.
 */
static ssize_t kp_pending_tasks_emit(struct kp_patch *patch, char *buf)
{
	struct kp_pending *p = kp_transition_pending(patch);
	unsigned int i, more = 0;
	ssize_t len = 0;
	bool ok;

	for (i = 0; p && i < kp_pending_nr(p); i++) {
		unsigned long *addr;
		struct task_struct *task = kp_pending_task(p, i, &addr);

		if (!task)
			continue;
		if (more) {
			more++;
			continue;
		}
		if (*addr)
			ok = kp_emit_line(buf, &len, "%d %s %pS\n", task->pid,
					  task->comm, (void *)*addr);
		else
			ok = kp_emit_line(buf, &len, "%d %s unreliable-stack\n",
					  task->pid, task->comm);
		if (!ok)
			more = 1;
	}
	if (more)
		len += sysfs_emit_at(buf, len, "... %u more\n", more);
	return len;
}

static ssize_t pending_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	unsigned int n;

	mutex_lock(&kp_mutex);
	n = kp_pending_left(kp_transition_pending(to_patch(kobj)));
	mutex_unlock(&kp_mutex);
	return sysfs_emit(buf, "%u\n", n);
}

static ssize_t pending_tasks_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	ssize_t len;

	mutex_lock(&kp_mutex);
	len = kp_pending_tasks_emit(to_patch(kobj), buf);
	mutex_unlock(&kp_mutex);
	return len;
}

static ssize_t timeout_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_patch(kobj)->timeout_s));
}

static ssize_t timeout_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	unsigned int val;
	int ret;

	ret = kstrtouint(buf, 0, &val);
	if (ret)
		return ret;
	if (!val)
		return -EINVAL;
	WRITE_ONCE(to_patch(kobj)->timeout_s, val);
	return count;
}

static ssize_t force_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_patch(kobj)->forced));
}

static int kp_force(struct kp_patch *patch, bool val)
{
	return val ? kp_transition_force(patch) : -EINVAL;
}

static ssize_t force_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	return kp_bool_store(kobj, buf, count, kp_force);
}

/*
 * "pid comm function+off/size [module]" per task that held the last reversed
 * transition, each followed by its stack, indented.
 */
static ssize_t kp_blocked_emit(const struct kp_blockers *bl, char *buf)
{
	unsigned int i, k;
	ssize_t len = 0;

	for (i = 0; bl && i < bl->nr; i++) {
		const struct kp_blocker *b = &bl->b[i];

		if (b->addr)
			len += sysfs_emit_at(buf, len, "%d %s %pS\n", b->pid,
					     b->comm, (void *)b->addr);
		else
			len += sysfs_emit_at(buf, len, "%d %s unreliable-stack(%d)\n",
					     b->pid, b->comm, b->err);
		for (k = 0; k < b->nr_entries; k++)
			len += sysfs_emit_at(buf, len, "    %pS\n",
					     (void *)b->entries[k]);
	}
	if (bl && bl->total > bl->nr)
		len += sysfs_emit_at(buf, len, "... %u more\n", bl->total - bl->nr);
	return len;
}

static ssize_t blocked_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	ssize_t len;

	mutex_lock(&kp_mutex);
	len = kp_blocked_emit(to_patch(kobj)->blocked, buf);
	mutex_unlock(&kp_mutex);
	return len;
}

static ssize_t build_id_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%s\n", to_patch(kobj)->build_id);
}

/* State transfer (issue 15): callbacks.c, state.c, shadow.c. */
static ssize_t callbacks_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	return kp_callbacks_emit(to_patch(kobj), buf);
}

static ssize_t states_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return kp_states_emit(to_patch(kobj), buf);
}

static ssize_t shadow_ids_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return kp_shadow_emit_ids(to_patch(kobj)->mod, buf);
}

static ssize_t values_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return kp_values_emit(to_patch(kobj), buf);
}

static ssize_t shadow_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return kp_shadow_emit_all(buf);
}

static struct kobj_attribute callbacks_attr = __ATTR_RO(callbacks);
static struct kobj_attribute states_attr = __ATTR_RO(states);
static struct kobj_attribute shadow_ids_attr = __ATTR_RO(shadow_ids);
static struct kobj_attribute shadow_attr = __ATTR_RO(shadow);
static struct kobj_attribute values_attr = __ATTR_RO(values);

static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);
static struct kobj_attribute transition_attr = __ATTR_RO(transition);
static struct kobj_attribute transition_ms_attr = __ATTR_RO(transition_ms);
static struct kobj_attribute pending_attr = __ATTR_RO(pending);
/* Kernel stacks of any task, as /proc/PID/stack: root only. */
static struct kobj_attribute pending_tasks_attr = __ATTR(pending_tasks, 0400,
							 pending_tasks_show, NULL);
static struct kobj_attribute timeout_attr = __ATTR_RW(timeout);
static struct kobj_attribute force_attr = __ATTR_RW(force);
static struct kobj_attribute blocked_attr = __ATTR(blocked, 0400, blocked_show, NULL);
static struct kobj_attribute build_id_attr = __ATTR_RO(build_id);

static struct attribute *kp_patch_attrs[] = {
	&enabled_attr.attr,
	&transition_attr.attr,
	&transition_ms_attr.attr,
	&pending_attr.attr,
	&pending_tasks_attr.attr,
	&timeout_attr.attr,
	&force_attr.attr,
	&blocked_attr.attr,
	&build_id_attr.attr,
	&callbacks_attr.attr,
	&states_attr.attr,
	&shadow_ids_attr.attr,
	&values_attr.attr,
	NULL
};
static const struct attribute_group kp_patch_group = {
	.attrs = kp_patch_attrs,
};

static const struct attribute_group *kp_patch_groups[] = {
	&kp_patch_group,
	&kp_probation_group,	/* probation.c */
	&kp_canary_group,	/* canary.c */
	NULL,
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

static void kp_patch_release(struct kobject *kobj)
{
	kp_patch_free(to_patch(kobj));
}

/* Objects and functions live in arrays freed with their patch. */
static void kp_child_release(struct kobject *kobj)
{
}

static struct kobj_type kp_patch_ktype = {
	.release = kp_patch_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kp_patch_groups,
};

static struct kobj_type kp_object_ktype = {
	.release = kp_child_release,
	.sysfs_ops = &kobj_sysfs_ops,
};

static struct kobj_type kp_func_ktype = {
	.release = kp_child_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kp_func_groups,
};

int kp_sysfs_add_patch(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;
	int ret;

	ret = kobject_init_and_add(&patch->kobj, &kp_patch_ktype, kp_root_kobj,
				   "%s", patch->name);
	patch->kobj_added = true;
	if (ret)
		goto err;
	kp_for_each_object(patch, obj) {
		ret = kobject_init_and_add(&obj->kobj, &kp_object_ktype,
					   &patch->kobj, "%s", obj->name);
		if (ret) {
			kobject_put(&obj->kobj);
			goto err;
		}
		kp_for_each_func(obj, func) {
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
 * Drop the sysfs tree of @patch; frees @patch with the last reference.  The
 * files go at once (kobject_del): they read the patch module's data, which
 * goes with the module even if a release is delayed.
 */
void kp_sysfs_del_patch(struct kp_patch *patch)
{
	struct kp_object *obj;
	struct kp_func *func;

	kp_for_each_object(patch, obj) {
		kp_for_each_func(obj, func) {
			if (func->kobj.state_in_sysfs) {
				kobject_del(&func->kobj);
				kobject_put(&func->kobj);
			}
		}
		if (obj->kobj.state_in_sysfs) {
			kobject_del(&obj->kobj);
			kobject_put(&obj->kobj);
		}
	}
	if (patch->kobj.state_in_sysfs)
		kobject_del(&patch->kobj);
	kobject_put(&patch->kobj);
}

/* /sys/kernel/kp, for the files of other parts of the core. */
struct kobject *kp_sysfs_root(void)
{
	return kp_root_kobj;
}

int kp_sysfs_init(void)
{
	kp_root_kobj = kobject_create_and_add("kp", kernel_kobj);
	if (!kp_root_kobj) {
		pr_err("cannot create /sys/kernel/kp\n");
		return -ENOMEM;
	}
	if (sysfs_create_file(kp_root_kobj, &shadow_attr.attr)) {
		kobject_put(kp_root_kobj);
		return -ENOMEM;
	}
	return 0;
}

void kp_sysfs_exit(void)
{
	kobject_put(kp_root_kobj);
}
