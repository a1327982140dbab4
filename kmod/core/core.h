/* SPDX-License-Identifier: GPL-2.0 */
/*
 * core.h - what every file of kp_core.ko shares: the patch, object and
 * function structures, their iterators and the lock that guards them (as
 * kernel/livepatch/core.h), and the API of core.c.
 */
#ifndef KP_CORE_H
#define KP_CORE_H

#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <kp/abi.h>
#include "comm.h"
#include "kp_patch.h"

#define KP_MAX_BLOCKERS		16
#define KP_BLOCKER_DEPTH	12

enum kp_transition_state {
	KP_IDLE,
	KP_ENABLING,
	KP_DISABLING,
	KP_CANARY,		/* held open for a few tasks (canary.c) */
};

struct kp_ops;
struct kp_object;
struct kp_value;

/* One function replaced by one patch (livepatch: klp_func). */
struct kp_func {
	struct kp_object *obj;
	const struct kp_func_rec *rec;
	const char *name;
	unsigned long sympos;
	unsigned long old_addr;		/* 0 while the object is not loaded */
	unsigned long old_size;
	unsigned long ftrace_loc;	/* the old function's __fentry__ site */
	unsigned long new_addr;
	unsigned long new_size;
	struct kp_ops *ops;		/* set while attached to ftrace */
	struct list_head stack_node;	/* in ops->func_stack while patched */
	bool patched;			/* on ops->func_stack */
	bool transition;		/* in transition: per-task version */
	bool nop;			/* replace.c: back to the original code */
	struct kobject kobj;
};

/* The callbacks of one object (callbacks.c; livepatch: klp_callbacks). */
struct kp_object_callbacks {
	void *pre_patch, *post_patch, *pre_unpatch, *post_unpatch;
	bool patched;			/* pre_patch succeeded, not unpatched */
	struct kp_callback_object arg;	/* what the callbacks get */
};

/* The functions of one patch in one object (vmlinux or a module). */
struct kp_object {
	struct kp_patch *patch;
	const char *name;
	struct module *mod;		/* NULL for vmlinux or when not loaded */
	bool present;			/* loaded and resolved */
	unsigned int nr_funcs;
	struct kp_func *funcs;
	struct kp_object_callbacks cb;
	struct kobject kobj;
};

/* A task that held a transition, as the stack check saw it. */
struct kp_blocker {
	pid_t pid;
	char comm[KP_COMM_ESC_LEN];	/* escaped: comm.c */
	unsigned long addr;		/* 0: unreliable stack */
	int err;
	unsigned int nr_entries;
	unsigned long entries[KP_BLOCKER_DEPTH];
};

/* The first KP_MAX_BLOCKERS of @total blocking tasks. */
struct kp_blockers {
	unsigned int nr;
	unsigned int total;
	struct kp_blocker b[KP_MAX_BLOCKERS];
};

struct kp_patch {
	struct list_head node;		/* kp_patches */
	struct module *mod;
	const struct kp_patch_rec *rec;
	const char *name;
	const char *build_id;
	unsigned int nr_objs;
	struct kp_object *objs;
	struct kp_func *funcs;		/* every function, grouped by object */
	unsigned int nr_values;
	struct kp_value *values;	/* KP_TRANSFER_VALUE variables (values.c) */
	bool enabled;			/* the state it is in or heads for */
	bool removing;
	bool forced;			/* a transition was forced: never removed */
	bool rolling_back;		/* probation's disable: never reversed */
	unsigned int timeout_s;		/* transition timeout */
	u64 rollback_on;		/* KP_ROLLBACK_*: records | the load's */
	unsigned int on_timeout;	/* KP_ON_TIMEOUT_*: stragglers.c */
	enum kp_transition_state transition;
	struct kp_blockers *blocked;	/* who held the last reversed transition */
	/* Replace (issue 27, replace.c). */
	const char *set;		/* replace set, NULL: the default set */
	bool replace;			/* replaces the enabled patches of its set */
	bool held;			/* replaced, kept for a rollback of replaced_by */
	unsigned int nr_nop_objs;	/* the nops of an enable of a replace patch */
	struct kp_object *nop_objs;
	struct kp_func *nop_funcs;
	char *replaced;			/* the patches it replaced, one per line */
	char replaced_by[MODULE_NAME_LEN];	/* replaced by that patch: disabled */
	struct kobject kobj;
	bool kobj_added;
};

#define kp_for_each_object(patch, obj)					\
	for (obj = (patch)->objs; obj < (patch)->objs + (patch)->nr_objs; obj++)

/*
 * Every object of @patch and then its nop objects (replace.c): what a
 * transition pushes, marks, checks and pops.
 */
static inline struct kp_object *kp_object_next_all(struct kp_patch *patch,
						   struct kp_object *obj)
{
	struct kp_object *end = patch->objs + patch->nr_objs;
	struct kp_object *nops = patch->nr_nop_objs ? patch->nop_objs : NULL;

	if (!obj)
		return patch->nr_objs ? patch->objs : nops;
	if (obj >= patch->objs && obj < end)
		return ++obj < end ? obj : nops;
	return ++obj < patch->nop_objs + patch->nr_nop_objs ? obj : NULL;
}

#define kp_for_each_object_all(patch, obj)				\
	for (obj = kp_object_next_all(patch, NULL); obj;		\
	     obj = kp_object_next_all(patch, obj))

#define kp_for_each_func(obj, func)					\
	for (func = (obj)->funcs; func < (obj)->funcs + (obj)->nr_funcs; func++)

extern struct mutex kp_mutex;
extern struct list_head kp_patches;

int kp_check_target(const char *name, const struct kp_patch_rec *rec);
int kp_object_resolve(struct kp_object *obj);
void kp_object_unresolve(struct kp_object *obj);
int kp_enable_patch(struct kp_patch *patch);
int kp_disable_patch(struct kp_patch *patch);
int kp_rollback_patch(struct kp_patch *patch);
void kp_patch_settled(struct kp_patch *patch, bool enabled);
void kp_patch_probation_over(struct kp_patch *patch);
void kp_patch_free(struct kp_patch *patch);

#endif /* KP_CORE_H */
