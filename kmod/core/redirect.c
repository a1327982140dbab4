// SPDX-License-Identifier: GPL-2.0
/*
 * redirect.c - send calls of an old function to its newest version.
 *
 * One ftrace_ops (IPMODIFY; SAVE_REGS only without WITH_ARGS) per old
 * function, shared by every patch that replaces it.  Its versions form a
 * stack, newest first; the handler reads the head of that RCU list.  The
 * stack only changes inside stop_machine (passes.c), for a module whose
 * code has not run yet, or when no task can pick the version that goes, so
 * every caller, NMIs included, sees either the old or the new head.  While
 * the head is in transition the task's own state decides between the head
 * and the version below it: whether the table of pending tasks the
 * transition installs (kp_pending_install()) names it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include "compat.h"
#include "redirect.h"

/* The pending tasks of the transition in progress, NULL when none. */
static struct kp_pending __rcu *kp_pending_now;

/*
 * Does current (or the task an interrupt or NMI interrupted) run the patched
 * state of the patch in transition?  Pending tasks run the state the
 * transition leaves, every other task the target.  Called by the ftrace
 * handler for a version in transition, preemption disabled; possibly where
 * RCU is not watching (the idle path), hence the raw dereference: the table
 * is freed only after kp_synchronize(), which waits for such callers too.
 */
static __always_inline bool kp_current_patched(void)
{
	struct kp_pending *p;

	smp_rmb();	/* func->transition before the table, as livepatch */
	p = rcu_dereference_raw(kp_pending_now);
	if (!p)
		return true;
	return kp_pending_has(p, current) != p->to_patched;
}

/*
 * Make @p the table the ftrace handler reads (NULL: none) and return the
 * previous one, which the caller frees after kp_synchronize().  Called under
 * kp_mutex, or inside stop_machine on behalf of its holder.
 */
struct kp_pending *kp_pending_install(struct kp_pending *p)
{
	struct kp_pending *old = rcu_dereference_protected(kp_pending_now, true);

	rcu_assign_pointer(kp_pending_now, p);
	return old;
}

/* The table in force, for the self-switch task work (preemption disabled). */
struct kp_pending *kp_pending_installed(void)
{
	return rcu_dereference_sched(kp_pending_now);
}

/*
 * One old function: its ftrace_ops and the stack of its versions (livepatch:
 * klp_ops), shared by every patch that replaces it.
 */
struct kp_ops {
	struct list_head node;		/* kp_ops_list */
	unsigned long ftrace_loc;	/* __fentry__ site of the old function */
	struct ftrace_ops fops;
	struct list_head func_stack;	/* struct kp_func, newest first, RCU */
};

static LIST_HEAD(kp_ops_list);

/*
 * The version of a function in transition: the task's own state decides
 * between the head and the version below it.  Kept out of the handler (and
 * reached by a tail call) so that the handler's usual path saves no register.
 */
static noinline void notrace kp_transition_redirect(struct kp_ops *ops,
						    struct kp_func *func,
						    struct ftrace_regs *fregs,
						    int bit)
{
	if (!kp_current_patched())
		func = list_next_or_null_rcu(&ops->func_stack, &func->stack_node,
					     struct kp_func, stack_node);
	if (func)
		kp_ftrace_set_ip(fregs, func->new_addr);
	ftrace_test_recursion_unlock(bit);
}

static void notrace kp_ftrace_handler(unsigned long ip, unsigned long parent_ip,
				      struct ftrace_ops *fops,
				      struct ftrace_regs *fregs)
{
	struct kp_ops *ops = container_of(fops, struct kp_ops, fops);
	struct kp_func *func;
	int bit;

	/*
	 * Disables preemption: the RCU read side of the versions list.  Fails
	 * only on recursion, which no caller of a replaced function should
	 * cause: say so once, as livepatch does.
	 */
	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (WARN_ON_ONCE(bit < 0))
		return;
	func = list_first_or_null_rcu(&ops->func_stack, struct kp_func,
				      stack_node);
	if (func && unlikely(READ_ONCE(func->transition))) {
		kp_transition_redirect(ops, func, fregs, bit);
		return;
	}
	if (func)
		kp_ftrace_set_ip(fregs, func->new_addr);
	ftrace_test_recursion_unlock(bit);
}

static struct kp_ops *kp_find_ops(unsigned long loc)
{
	struct kp_ops *ops;

	list_for_each_entry(ops, &kp_ops_list, node)
		if (ops->ftrace_loc == loc)
			return ops;
	return NULL;
}

/*
 * Make sure an ftrace_ops is registered on @func's old function.  Until the
 * version is pushed (kp_push_version) the handler leaves calls alone.
 */
int kp_attach_func(struct kp_func *func)
{
	struct kp_ops *ops;
	int ret;

	if (func->ops)
		return 0;
	ops = kp_find_ops(func->ftrace_loc);
	if (ops) {
		func->ops = ops;
		return 0;
	}

	ops = kzalloc(sizeof(*ops), GFP_KERNEL);
	if (!ops)
		return -ENOMEM;
	ops->ftrace_loc = func->ftrace_loc;
	INIT_LIST_HEAD(&ops->func_stack);
	ops->fops.func = kp_ftrace_handler;
	/*
	 * With DYNAMIC_FTRACE_WITH_ARGS (x86_64 on 6.1) the light ftrace_caller
	 * trampoline already lets the handler change the return IP, so full
	 * pt_regs (SAVE_REGS) are only asked for where it is missing; the
	 * kernel's livepatch does the same.
	 */
	ops->fops.flags = FTRACE_OPS_FL_DYNAMIC | FTRACE_OPS_FL_IPMODIFY |
			FTRACE_OPS_FL_PERMANENT;
	if (!IS_ENABLED(CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS))
		ops->fops.flags |= FTRACE_OPS_FL_SAVE_REGS;

	ret = ftrace_set_filter_ip(&ops->fops, ops->ftrace_loc, 0, 0);
	if (ret) {
		pr_err("%s: cannot set the ftrace filter on %s (%s): %d\n",
		       func->obj->patch->name, func->name, func->obj->name, ret);
		ftrace_free_filter(&ops->fops);
		kfree(ops);
		return ret;
	}
	ret = register_ftrace_function(&ops->fops);
	if (ret) {
		pr_err("%s: cannot register the ftrace handler on %s (%s): %d%s\n",
		       func->obj->patch->name, func->name, func->obj->name, ret,
		       ret == -EBUSY ? " (kernel.ftrace_enabled=0, or another IPMODIFY user)" : "");
		ftrace_free_filter(&ops->fops);
		kfree(ops);
		return ret;
	}
	list_add(&ops->node, &kp_ops_list);
	func->ops = ops;
	return 0;
}

/* Drop @func's use of its ftrace_ops; unregister it when nobody is left. */
void kp_detach_func(struct kp_func *func)
{
	struct kp_ops *ops = func->ops;
	struct kp_patch *patch;
	struct kp_object *obj;
	struct kp_func *f;
	int ret;

	if (!ops || WARN_ON(func->patched))
		return;
	func->ops = NULL;

	/* Still used by another attached function (of any patch)? */
	list_for_each_entry(patch, &kp_patches, node)
		kp_for_each_object_all(patch, obj)
			kp_for_each_func(obj, f)
				if (f->ops == ops)
					return;
	ret = unregister_ftrace_function(&ops->fops);
	if (ret)
		pr_err("cannot unregister the ftrace handler on %ps: %d\n",
		       (void *)ops->ftrace_loc, ret);
	ftrace_free_filter(&ops->fops);
	list_del(&ops->node);
	kfree(ops);
}

/*
 * Make @func the newest version.  Inside stop_machine or on a fresh module;
 * the caller sets func->transition first.
 */
void kp_push_version(struct kp_func *func)
{
	list_add_rcu(&func->stack_node, &func->ops->func_stack);
	func->patched = true;
}

/* Remove @func from its versions, wherever it is in the stack. */
void kp_pop_version(struct kp_func *func)
{
	list_del_rcu(&func->stack_node);
	func->patched = false;
}

struct kp_func *kp_top_version(struct kp_func *func)
{
	if (!func->ops)
		return NULL;
	return list_first_entry_or_null(&func->ops->func_stack, struct kp_func,
					stack_node);
}

/* The version right below @func (patched) in its stack, NULL for the original. */
struct kp_func *kp_next_version(struct kp_func *func)
{
	if (list_is_last(&func->stack_node, &func->ops->func_stack))
		return NULL;
	return list_next_entry(func, stack_node);
}

void kp_redirect_cleanup(void)
{
	WARN_ON(!list_empty(&kp_ops_list));
}
