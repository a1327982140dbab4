// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs_patch.c - the files of /sys/kernel/kp/<patch>/ and their text (the
 * directory itself, /sys/kernel/kp/ and the function directories are
 * sysfs.c's):
 *   enabled        rw  the state the patch is in or heads for; writing the
 *                      other value during a transition reverses it
 *   transition     ro  idle | enabling | disabling | canary
 *   transition_ms  ro  elapsed time of the transition in progress
 *   pending        ro  number of tasks not switched yet
 *   pending_tasks  ro  "pid comm function+off/size" of each of them
 *   timeout        rw  seconds before a transition reverses, or an enable
 *                      stays pending (on_timeout)
 *   on_timeout     rw  pending | reverse: what an enable still waiting for
 *                      tasks at its timeout does (stragglers.c); "reverse"
 *                      reverses one pending past it at the next retry
 *   stalled        ro  1 while the transition is past its timeout, pending
 *   force          rw  write 1: switch every pending task now (unsafe; the
 *                      patch module can no longer be removed); reads 0/1
 *   blocked        ro  tasks that held the last transition that timed out
 *   build_id       ro  the kernel build ID the patch was built for
 *   callbacks      ro  "<object> <kind>..." per object with callbacks
 *   states         ro  "<id> <version>" per state the patch declares
 *   shadow_ids     ro  the shadow variable ids the patch module uses
 *   values         ro  "<object> <variable>,<sympos> <size> <state> <old> ->
 *                      <new>" per KP_TRANSFER_VALUE variable (values.c)
 *   probation      rw  seconds of probation left; write N to (re)start it,
 *                      0 to end it (probation.c)
 *   rollback       w   write a reason: roll the patch back now
 *   rolled_back    r   (root) why probation rolled the patch back (memory.c),
 *                      ", unconfirmed" when a task other than root did it
 *   rollback_on    rw  "warn,stack": what rolls the patch back besides the
 *                      default; a write adds kinds for this load (probation.c)
 *   canary         rw  (root) "pid comm" per live canary task; write "promote" or
 *                      "abort" (canary.c, transition.c)
 *   replace        ro  1: the patch replaces the enabled patches of its set
 *                      when it goes live (replace.c), else 0
 *   set            ro  its replace set, empty for the default set
 *   replaced       ro  the patches it replaced, one per line
 *   replaced_by    ro  the patch that replaced it (it is disabled), or empty
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include "callbacks.h"
#include "canary.h"
#include "memory.h"
#include "pending.h"
#include "probation.h"
#include "shadow.h"
#include "state.h"
#include "stragglers.h"
#include "sysfs.h"
#include "transition.h"
#include "values.h"

#define to_patch(k) container_of(k, struct kp_patch, kobj)

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
		char comm[KP_COMM_ESC_LEN];

		if (!task)
			continue;
		if (more) {
			more++;
			continue;
		}
		kp_task_comm(comm, task);
		if (*addr)
			ok = kp_emit_line(buf, &len, "%d %s %pS\n", task->pid,
					  comm, (void *)*addr);
		else
			ok = kp_emit_line(buf, &len, "%d %s unreliable-stack\n",
					  task->pid, comm);
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

static ssize_t on_timeout_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  kp_stragglers_name(READ_ONCE(to_patch(kobj)->on_timeout)));
}

/* "pending" or "reverse"; the work of a pending transition reads it. */
static ssize_t on_timeout_store(struct kobject *kobj,
				struct kobj_attribute *attr, const char *buf,
				size_t count)
{
	unsigned int val;
	int ret;

	ret = kp_stragglers_parse(buf, &val);
	if (ret)
		return ret;
	WRITE_ONCE(to_patch(kobj)->on_timeout, val);
	return count;
}

static ssize_t stalled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", kp_transition_stalled(to_patch(kobj)));
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

/* Replace (issue 27): replace.c. */
static ssize_t replace_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", to_patch(kobj)->replace);
}

static ssize_t set_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	const char *set = to_patch(kobj)->set;

	return sysfs_emit(buf, "%s\n", set ? set : "");
}

static ssize_t replaced_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	struct kp_patch *patch = to_patch(kobj);
	ssize_t n;

	mutex_lock(&kp_mutex);
	n = sysfs_emit(buf, "%s", patch->replaced ? patch->replaced : "");
	mutex_unlock(&kp_mutex);
	return n;
}

static ssize_t replaced_by_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct kp_patch *patch = to_patch(kobj);
	ssize_t n;

	mutex_lock(&kp_mutex);
	n = sysfs_emit(buf, "%s\n", patch->replaced_by);
	mutex_unlock(&kp_mutex);
	return n;
}

/* State transfer (issue 15): callbacks.c, state.c, shadow.c, values.c. */
/* "<object> <kind>..." per object with callbacks. */
static ssize_t callbacks_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	static const char * const kinds[] = {
		"pre_patch", "post_patch", "pre_unpatch", "post_unpatch",
	};
	struct kp_object *obj;
	ssize_t len = 0;
	unsigned int i;

	kp_for_each_object(to_patch(kobj), obj) {
		void *fns[] = { obj->cb.pre_patch, obj->cb.post_patch,
				obj->cb.pre_unpatch, obj->cb.post_unpatch };
		bool any = false;

		for (i = 0; i < ARRAY_SIZE(fns); i++) {
			if (!fns[i] || len >= PAGE_SIZE - 64)
				continue;
			if (!any)
				len += sysfs_emit_at(buf, len, "%s", obj->name);
			len += sysfs_emit_at(buf, len, " %s", kinds[i]);
			any = true;
		}
		if (any)
			len += sysfs_emit_at(buf, len, "\n");
	}
	return len;
}

/* "<id> <version>" per declared state. */
static ssize_t states_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	const struct kp_state_rec *s;
	ssize_t len = 0;

	kp_for_each_state(to_patch(kobj)->rec, s)
		if (len < PAGE_SIZE - 48)
			len += sysfs_emit_at(buf, len, "%llu %llu\n", s->id,
					     s->version);
	return len;
}

static bool kp_shadow_id_emit(unsigned long id, bool declared, void *data)
{
	struct kp_sysfs_page *pg = data;

	if (pg->len < PAGE_SIZE - 40)
		pg->len += sysfs_emit_at(pg->buf, pg->len, "%lu%s\n", id,
					 declared ? " declared" : "");
	return true;
}

/* The ids the patch module uses, "<id>[ declared]" a line. */
static ssize_t shadow_ids_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	struct kp_sysfs_page pg = { .buf = buf };

	kp_shadow_walk_ids(to_patch(kobj)->mod, kp_shadow_id_emit, &pg);
	return pg.len;
}

/* One value as userspace's value_text() shows it. */
static int kp_value_text(char *buf, size_t len, const void *val, size_t n)
{
	u64 x = 0;
	size_t i;
	int at = 0;

	if (n == 1 || n == 2 || n == 4 || n == 8) {
		memcpy(&x, val, n);	/* little-endian: the low bytes */
		return scnprintf(buf, len, "0x%llx", x);
	}
	for (i = 0; i < n; i++)
		at += scnprintf(buf + at, len - at, "%s%02x", i ? " " : "",
				((const u8 *)val)[i]);
	return at;
}

/*
 * "<object> <variable>,<sympos> <size> <state> <old> -> <new>" per variable
 * (values.c); state: pending, transferred, kept, restored, left.
 */
static ssize_t values_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	static const char * const states[] = {
		[KP_VALUE_PENDING] = "pending",
		[KP_VALUE_TRANSFERRED] = "transferred",
		[KP_VALUE_KEPT] = "kept",
		[KP_VALUE_RESTORED] = "restored",
		[KP_VALUE_LEFT] = "left",
	};
	char o[3 * KP_VALUE_MAX], n[3 * KP_VALUE_MAX];
	struct kp_patch *patch = to_patch(kobj);
	struct kp_value *v;
	ssize_t len = 0;

	/* No kp_mutex: sysfs removal under it waits for readers (livepatch). */
	kp_for_each_value(patch, v) {
		if (len >= PAGE_SIZE - 2 * sizeof(o) - 128)
			break;
		kp_value_text(o, sizeof(o), v->rec->old_value, v->rec->size);
		kp_value_text(n, sizeof(n), v->rec->new_value, v->rec->size);
		len += sysfs_emit_at(buf, len, "%s %s,%llu %llu %s %s -> %s\n",
				     v->obj->name, v->name, v->rec->sympos,
				     v->rec->size, states[v->state], o, n);
	}
	return len;
}

static ssize_t probation_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	unsigned int left;

	mutex_lock(&kp_mutex);
	left = kp_probation_left(to_patch(kobj));
	mutex_unlock(&kp_mutex);
	return sysfs_emit(buf, "%u\n", left);
}

static ssize_t probation_store(struct kobject *kobj,
			       struct kobj_attribute *attr, const char *buf,
			       size_t count)
{
	unsigned int seconds;
	int ret;

	ret = kstrtouint(buf, 0, &seconds);
	if (ret)
		return ret;
	mutex_lock(&kp_mutex);
	ret = kp_probation_set(to_patch(kobj), seconds);
	mutex_unlock(&kp_mutex);
	return ret ? ret : count;
}

static ssize_t rollback_store(struct kobject *kobj,
			      struct kobj_attribute *attr, const char *buf,
			      size_t count)
{
	int ret;

	mutex_lock(&kp_mutex);
	ret = kp_probation_fail(to_patch(kobj), buf);
	mutex_unlock(&kp_mutex);
	return ret ? ret : count;
}

static ssize_t rolled_back_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	char why[KP_WHY_MAX];
	bool confirmed;

	if (!kp_memory_why(to_patch(kobj)->mod, why, sizeof(why), &confirmed))
		return 0;
	return sysfs_emit(buf, "%s%s\n", why, confirmed ? "" : ", unconfirmed");
}

/* "warn,stack": what rolls the patch back besides the default (probation.c). */
static ssize_t rollback_on_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	u64 kinds = READ_ONCE(to_patch(kobj)->rollback_on);

	return sysfs_emit(buf, "%s%s%s\n",
			  kinds & KP_ROLLBACK_WARN ? "warn" : "",
			  kinds == KP_ROLLBACK_ALL ? "," : "",
			  kinds & KP_ROLLBACK_STACK ? "stack" : "");
}

/* Write "warn", "stack" or both, comma-separated: added for this load. */
static ssize_t rollback_on_store(struct kobject *kobj,
				 struct kobj_attribute *attr, const char *buf,
				 size_t count)
{
	char words[32], *s = words, *w;
	u64 kinds = 0;
	int ret;

	if (strscpy(words, buf, sizeof(words)) < 0)
		return -EINVAL;
	while ((w = strsep(&s, ",")) != NULL) {
		w = strim(w);
		if (!strcmp(w, "warn"))
			kinds |= KP_ROLLBACK_WARN;
		else if (!strcmp(w, "stack"))
			kinds |= KP_ROLLBACK_STACK;
		else if (*w)
			return -EINVAL;
	}
	mutex_lock(&kp_mutex);
	ret = kp_probation_rollback_on(to_patch(kobj), kinds);
	mutex_unlock(&kp_mutex);
	return ret ? ret : count;
}

static bool kp_canary_task_emit(struct task_struct *task, void *data)
{
	struct kp_sysfs_page *pg = data;
	char comm[KP_COMM_ESC_LEN];

	if (pg->len >= PAGE_SIZE - KP_COMM_ESC_LEN - 16)
		return false;
	if (!(task->flags & PF_EXITING)) {
		kp_task_comm(comm, task);
		pg->len += sysfs_emit_at(pg->buf, pg->len, "%d %s\n",
					 task_pid_vnr(task), comm);
	}
	return true;
}

/* "pid comm" of each live canary task (a page at most). */
static ssize_t canary_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	struct kp_sysfs_page pg = { .buf = buf };

	mutex_lock(&kp_mutex);
	kp_canary_walk_tasks(to_patch(kobj), kp_canary_task_emit, &pg);
	mutex_unlock(&kp_mutex);
	return pg.len;
}

/* "promote" or "abort" the open canary. */
static ssize_t canary_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	struct kp_patch *patch = to_patch(kobj);
	bool promote = sysfs_streq(buf, "promote");
	int ret;

	if (!promote && !sysfs_streq(buf, "abort"))
		return -EINVAL;
	mutex_lock(&kp_mutex);
	ret = patch->removing ? -ENOENT :
		kp_transition_canary_end(patch, promote);
	mutex_unlock(&kp_mutex);
	return ret ? ret : count;
}

static struct kobj_attribute callbacks_attr = __ATTR_RO(callbacks);
static struct kobj_attribute states_attr = __ATTR_RO(states);
static struct kobj_attribute shadow_ids_attr = __ATTR_RO(shadow_ids);
static struct kobj_attribute values_attr = __ATTR_RO(values);

static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);
static struct kobj_attribute transition_attr = __ATTR_RO(transition);
static struct kobj_attribute transition_ms_attr = __ATTR_RO(transition_ms);
static struct kobj_attribute pending_attr = __ATTR_RO(pending);
/* Kernel stacks of any task, as /proc/PID/stack: root only. */
static struct kobj_attribute pending_tasks_attr = __ATTR(pending_tasks, 0400,
							 pending_tasks_show, NULL);
static struct kobj_attribute timeout_attr = __ATTR_RW(timeout);
static struct kobj_attribute on_timeout_attr = __ATTR_RW(on_timeout);
static struct kobj_attribute stalled_attr = __ATTR_RO(stalled);
static struct kobj_attribute force_attr = __ATTR_RW(force);
static struct kobj_attribute blocked_attr = __ATTR(blocked, 0400, blocked_show, NULL);
static struct kobj_attribute build_id_attr = __ATTR_RO(build_id);
static struct kobj_attribute probation_attr = __ATTR_RW(probation);
static struct kobj_attribute rollback_attr = __ATTR_WO(rollback);
/* Who faulted, and who is in the canary (pid, comm, uid): root only. */
static struct kobj_attribute rolled_back_attr = __ATTR(rolled_back, 0400,
						       rolled_back_show, NULL);
static struct kobj_attribute rollback_on_attr = __ATTR_RW(rollback_on);
static struct kobj_attribute canary_attr = __ATTR(canary, 0600, canary_show,
						  canary_store);
static struct kobj_attribute replace_attr = __ATTR_RO(replace);
static struct kobj_attribute set_attr = __ATTR_RO(set);
static struct kobj_attribute replaced_attr = __ATTR_RO(replaced);
static struct kobj_attribute replaced_by_attr = __ATTR_RO(replaced_by);

static struct attribute *kp_patch_attrs[] = {
	&enabled_attr.attr,
	&transition_attr.attr,
	&transition_ms_attr.attr,
	&pending_attr.attr,
	&pending_tasks_attr.attr,
	&timeout_attr.attr,
	&on_timeout_attr.attr,
	&stalled_attr.attr,
	&force_attr.attr,
	&blocked_attr.attr,
	&build_id_attr.attr,
	&callbacks_attr.attr,
	&states_attr.attr,
	&shadow_ids_attr.attr,
	&values_attr.attr,
	&probation_attr.attr,
	&rollback_attr.attr,
	&rolled_back_attr.attr,
	&rollback_on_attr.attr,
	&canary_attr.attr,
	&replace_attr.attr,
	&set_attr.attr,
	&replaced_attr.attr,
	&replaced_by_attr.attr,
	NULL
};

static const struct attribute_group kp_patch_group = {
	.attrs = kp_patch_attrs,
};

const struct attribute_group *kp_patch_groups[] = {
	&kp_patch_group,
	NULL,
};
