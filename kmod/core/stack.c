// SPDX-License-Identifier: GPL-2.0
/*
 * stack.c - the stack checks of a transition.  A task may switch only when
 * no return address on its stack, as the reliable (ORC) unwinder gives it,
 * lies in the code the switch leaves: the ranges of kp_collect_ranges().
 * The passes (passes.c) check tasks that are not running, inside
 * stop_machine; a pending task checks itself in its task work
 * (kp_stack_blocks_self(), transition.c), against the ranges the transition
 * in progress installed.  The tasks that held a transition are kept as
 * struct kp_blockers, logged and shown in sysfs "blocked".
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "compat.h"
#include "kallsyms.h"
#include "params.h"
#include "redirect.h"
#include "replace.h"
#include "stack.h"

#define KP_STACK_ENTRIES	128

/* What the switch in progress leaves, read by the self-switch under RCU-sched. */
static struct kp_ranges __rcu *kp_ranges_now;

/* Inside stop_machine: one pass at a time (kp_mutex). */
static unsigned long *kp_stack_buf;
/* In a task work, preemption disabled: one per CPU. */
static unsigned long __percpu *kp_self_stack;

static void kp_add_range(struct kp_ranges *r, unsigned long start,
			 unsigned long size)
{
	if (!start || !size)
		return;
	r->r[r->nr].start = start;
	r->r[r->nr].end = start + size;
	r->nr++;
}

/*
 * The code that must not be on the stack of a task that switches: toward the
 * patched state, the old functions and the versions in force below this
 * patch; toward the unpatched state, the whole core text of the patch module
 * (its replacements, their .cold parts and the helpers they call or
 * tail-call, none of which needs a record: the module may go once the patch
 * is disabled) and the old functions, which only appear while a call is
 * inside the ftrace trampoline.  A replace patch (replace.c) switching on
 * also leaves the whole core text of every patch it replaces: those modules
 * may go once it is in force (livepatch checks only their versions).
 */
struct kp_ranges *kp_collect_ranges(struct kp_patch *patch, bool to_patched)
{
	struct kp_object *obj;
	struct kp_func *func, *below;
	struct kp_patch *p;
	struct kp_ranges *r;
	unsigned int n = 0;

	if (kp_fault_inject_nomem())
		return NULL;
	kp_for_each_object_all(patch, obj)
		n += obj->nr_funcs;
	n = 2 * n + 1 + (to_patched ? kp_replace_nr_targets(patch) : 0);
	r = kzalloc(struct_size(r, r, n), GFP_KERNEL);
	if (!r)
		return NULL;
	if (!to_patched)
		kp_add_range(r, kp_mod_text_start(patch->mod),
			     kp_mod_text_size(patch->mod));
	list_for_each_entry(p, &kp_patches, node)
		if (to_patched && kp_replaces(patch, p))
			kp_add_range(r, kp_mod_text_start(p->mod),
				     kp_mod_text_size(p->mod));

	kp_for_each_object_all(patch, obj) {
		kp_for_each_func(obj, func) {
			if (!func->ops)
				continue;
			kp_add_range(r, func->old_addr, func->old_size);
			if (to_patched) {
				below = func->patched ? kp_next_version(func) :
					kp_top_version(func);
				if (below)
					kp_add_range(r, below->new_addr, below->new_size);
			}
		}
	}
	return r;
}

/*
 * Make @r the ranges the self-switch checks (NULL: none) and return the
 * previous ones, which the caller frees after kp_synchronize().  Called under
 * kp_mutex, or inside stop_machine on behalf of its holder.
 */
struct kp_ranges *kp_ranges_install(struct kp_ranges *r)
{
	struct kp_ranges *old = rcu_dereference_protected(kp_ranges_now, true);

	rcu_assign_pointer(kp_ranges_now, r);
	return old;
}

/* The ranges in force (kp_mutex held). */
struct kp_ranges *kp_ranges_installed(void)
{
	return rcu_dereference_protected(kp_ranges_now,
					 lockdep_is_held(&kp_mutex));
}

/*
 * A target module goes (MODULE_STATE_GOING, kp_mutex held): the ranges in
 * force that lie in its memory are emptied in place (end = start), so a
 * module loaded later at those addresses is not taken for the code a switch
 * leaves (issue 25, item 11).  In place, because a GOING notification
 * cannot fail and must not allocate; each end is one aligned word, so a
 * concurrent check sees the range whole or empty.  livepatch has no such
 * ranges: klp_check_stack_func() walks the patch's functions, whose
 * old_func a going module's unpatch clears.
 */
void kp_ranges_drop_module(struct module *mod)
{
	struct kp_ranges *r = kp_ranges_installed();
	unsigned int i;

	for (i = 0; r && i < r->nr; i++)
		if (within_module(r->r[i].start, mod))
			WRITE_ONCE(r->r[i].end, r->r[i].start);
}

static unsigned long kp_in_ranges(const struct kp_ranges *r, unsigned long addr)
{
	unsigned int i;

	for (i = 0; i < r->nr; i++)
		if (addr >= r->r[i].start && addr < READ_ONCE(r->r[i].end))
			return addr;
	return 0;
}

static void kp_record_blocker(struct kp_blockers *bl, struct task_struct *task,
			      unsigned long addr, int err,
			      const unsigned long *entries, int nr)
{
	struct kp_blocker *b;

	bl->total++;
	if (bl->nr >= KP_MAX_BLOCKERS)
		return;
	b = &bl->b[bl->nr++];
	b->pid = task->pid;
	kp_task_comm(b->comm, task);
	b->addr = addr;
	b->err = err;
	b->nr_entries = nr > 0 ? min_t(int, nr, KP_BLOCKER_DEPTH) : 0;
	if (b->nr_entries)
		memcpy(b->entries, entries, b->nr_entries * sizeof(*entries));
}

/*
 * Does @task (not running: inside stop_machine) hold code the switch leaves?
 * Records why in @c and the address in @addr (0: unreliable stack).
 */
bool kp_stack_blocks(struct kp_stack_check *c, struct task_struct *task,
		     unsigned long *addr)
{
	unsigned long hit = 0;
	int nr, i;

	c->nr_tasks++;
	*addr = 0;
	nr = kp_stack_reliable(task, kp_stack_buf, KP_STACK_ENTRIES);
	if (nr < 0) {
		kp_record_blocker(&c->blocked, task, 0, nr, NULL, 0);
		return true;
	}
	for (i = 0; i < nr && !hit; i++)
		hit = kp_in_ranges(c->ranges, kp_stack_buf[i]);
	if (!hit)
		return false;
	*addr = hit;
	kp_record_blocker(&c->blocked, task, hit, 0, kp_stack_buf, nr);
	return true;
}

/*
 * The same question for current against the ranges installed, from its own
 * task work (preemption disabled).
 */
bool kp_stack_blocks_self(void)
{
	struct kp_ranges *r = rcu_dereference_sched(kp_ranges_now);
	unsigned long *buf = this_cpu_ptr(kp_self_stack);
	int nr, i;

	if (!r)
		return true;
	nr = kp_stack_reliable(current, buf, KP_STACK_ENTRIES);
	if (nr < 0)
		return true;
	for (i = 0; i < nr; i++)
		if (kp_in_ranges(r, buf[i]))
			return true;
	return false;
}

/* Log the tasks that held a transition and keep them for sysfs "blocked". */
void kp_report_blockers(struct kp_patch *patch, const struct kp_blockers *bl)
{
	unsigned int i, k;

	for (i = 0; i < bl->nr; i++) {
		const struct kp_blocker *b = &bl->b[i];

		if (b->addr)
			pr_err("%s: task %d (%s) is inside %pS\n", patch->name,
			       b->pid, b->comm, (void *)b->addr);
		else
			pr_err("%s: task %d (%s) has an unreliable stack (%d)\n",
			       patch->name, b->pid, b->comm, b->err);
		for (k = 0; k < b->nr_entries; k++)
			pr_err("%s:     %pS\n", patch->name, (void *)b->entries[k]);
	}
	if (bl->total > bl->nr)
		pr_err("%s: ... and %u more blocking tasks\n", patch->name,
		       bl->total - bl->nr);
	kfree(patch->blocked);
	patch->blocked = kmemdup(bl, sizeof(*bl), GFP_KERNEL);
}

int kp_stack_init(void)
{
	kp_stack_buf = kcalloc(KP_STACK_ENTRIES, sizeof(*kp_stack_buf),
			       GFP_KERNEL);
	kp_self_stack = __alloc_percpu(KP_STACK_ENTRIES * sizeof(unsigned long),
				       sizeof(unsigned long));
	if (!kp_stack_buf || !kp_self_stack) {
		kfree(kp_stack_buf);
		free_percpu(kp_self_stack);
		return -ENOMEM;
	}
	return 0;
}

/* After the task works have left (kp_transition_exit()). */
void kp_stack_exit(void)
{
	kfree(kp_stack_buf);
	free_percpu(kp_self_stack);
}
