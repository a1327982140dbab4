/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kp_core.ko private interfaces, shared by the files of kmod/core/.
 */
#ifndef KP_CORE_H
#define KP_CORE_H

#include <linux/ftrace.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <kp/abi.h>

#define KP_MAX_BLOCKERS		16
#define KP_BLOCKER_DEPTH	12
#define KP_STACK_ENTRIES	128
#define KP_BUILD_ID_HEX_MAX	(2 * 64 + 1)

enum kp_transition_state {
	KP_IDLE,
	KP_ENABLING,
	KP_DISABLING,
};

/* One old function of the running kernel with the versions that replace it. */
struct kp_fstate {
	struct list_head node;		/* kp_fstates */
	unsigned long ftrace_loc;	/* __fentry__ site of the old function */
	struct ftrace_ops ops;
	struct list_head versions;	/* struct kp_func, newest first, RCU */
};

struct kp_object;

/* One function replaced by one patch. */
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
	struct kp_fstate *fs;		/* set while attached to ftrace */
	struct list_head stack_node;	/* in fs->versions while in force */
	bool applied;			/* on fs->versions */
	bool transition;		/* in transition: per-task version */
	struct kobject kobj;
};

/* The functions of one patch in one object (vmlinux or a module). */
struct kp_object {
	struct kp_patch *patch;
	const char *name;
	struct module *mod;		/* NULL for vmlinux or when not loaded */
	bool present;			/* loaded and resolved */
	unsigned int nr_funcs;
	struct kp_func *funcs;
	struct kobject kobj;
};

struct kp_blocker {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	unsigned long addr;		/* 0: unreliable stack */
	int err;
	unsigned int nr_entries;
	unsigned long entries[KP_BLOCKER_DEPTH];
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
	bool enabled;			/* the state it is in or heads for */
	bool removing;
	bool forced;			/* a transition was forced: never removed */
	unsigned int timeout_s;		/* transition timeout */
	enum kp_transition_state transition;
	char *blocked;			/* who held the last reversed transition */
	struct kobject kobj;
	bool kobj_added;
};

/* What one stop_machine pass saw, filled inside stop_machine. */
struct kp_transition {
	unsigned int nr_tasks;
	unsigned int nr_blocked;
	unsigned int nr_blocked_total;
	u64 pause_ns;
	struct kp_blocker blockers[KP_MAX_BLOCKERS];
};

extern struct mutex kp_mutex;
extern struct list_head kp_patches;
extern unsigned int kp_timeout_s;

/* kallsyms.c */
int kp_kallsyms_init(void);
int kp_lookup(const char *objname, struct module *mod, const char *name,
	      unsigned long sympos, unsigned long *addr,
	      unsigned long *elf_size);
bool kp_symbol_size(unsigned long addr, unsigned long *size,
		    unsigned long *offset);
struct module *kp_find_module(const char *name);
void kp_module_lock(void);
void kp_module_unlock(void);
int kp_module_has_symbol(struct module *mod, const char *name,
			 unsigned long *addr);
int kp_vmlinux_build_id(char *hex, size_t len);
int kp_stack_reliable(struct task_struct *tsk, unsigned long *store,
		      unsigned int size);
struct callback_head *kp_task_work_cancel(struct task_struct *task,
					  bool (*match)(struct callback_head *, void *),
					  void *data);
struct task_struct *kp_idle_task(int cpu);
void kp_kick_task(struct task_struct *task);
unsigned long kp_ftrace_location(unsigned long addr);
void *kp_text_poke(void *addr, const void *opcode, size_t len);

/* reloc.c */
int kp_verify_syms(struct kp_patch *patch, struct kp_object *obj);
int kp_apply_relocs(struct kp_patch *patch, struct kp_object *obj);

/* redirect.c */
int kp_attach_func(struct kp_func *func);
void kp_detach_func(struct kp_func *func);
void kp_push_version(struct kp_func *func);
void kp_pop_version(struct kp_func *func);
struct kp_func *kp_top_version(struct kp_func *func);
struct kp_func *kp_next_version(struct kp_func *func);
void kp_redirect_cleanup(void);

/* transition.c */
int kp_transition_init(void);
void kp_transition_exit(void);
int kp_transition(struct kp_patch *patch, bool enable);
int kp_transition_force(struct kp_patch *patch);
int kp_transition_push_object(struct kp_patch *patch, struct kp_object *obj);
bool kp_in_transition(struct kp_patch *patch);
u64 kp_transition_elapsed_ms(struct kp_patch *patch);
ssize_t kp_transition_pending_show(struct kp_patch *patch, char *buf,
				   bool count_only);
bool kp_stack_blocks_self(unsigned long *buf, unsigned int size);
unsigned int kp_transition_gen(void);
void kp_transition_kick(void);

/* task_state.c */
struct kp_pending;
int kp_task_state_init(void);
void kp_task_state_exit(void);
struct kp_pending *kp_pending_alloc(unsigned int capacity, bool to_patched);
void kp_pending_free(struct kp_pending *p);
bool kp_pending_add(struct kp_pending *p, struct task_struct *task,
		    unsigned long addr);
void kp_pending_set_all(struct kp_pending *p, bool all);
bool kp_pending_has(struct kp_pending *p, struct task_struct *task);
bool kp_pending_switch(struct kp_pending *p, struct task_struct *task);
unsigned int kp_pending_left(struct kp_pending *p);
unsigned int kp_pending_nr(struct kp_pending *p);
struct task_struct *kp_pending_task(struct kp_pending *p, unsigned int i,
				    unsigned long **addr);
struct kp_pending *kp_pending_install(struct kp_pending *p);
void kp_pending_queue_twork(struct task_struct *task, unsigned int gen);
void kp_synchronize(void);

/* core.c */
int kp_object_resolve(struct kp_object *obj);
void kp_object_unresolve(struct kp_object *obj);
int kp_enable_patch(struct kp_patch *patch);
int kp_disable_patch(struct kp_patch *patch);
void kp_patch_settled(struct kp_patch *patch, bool enabled);
bool kp_is_vmlinux(const char *objname);

/* sysfs.c */
int kp_sysfs_init(void);
void kp_sysfs_exit(void);
int kp_sysfs_add_patch(struct kp_patch *patch);
void kp_sysfs_del_patch(struct kp_patch *patch);

/* module.c */
int kp_module_init(void);
void kp_module_exit(void);

#endif /* KP_CORE_H */
