/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stack.h - the stack checks of a transition and the ranges they look for
 * (stack.c): which code a switching task must not hold, whether a task holds
 * it, and the report of the tasks that held a transition.
 */
#ifndef KP_STACK_H
#define KP_STACK_H

#include "core.h"

/* The code a switch leaves: address ranges [start, end). */
struct kp_range {
	unsigned long start;
	unsigned long end;
};

struct kp_ranges {
	unsigned int nr;
	struct kp_range r[];
};

/* A series of stack checks against @ranges, and what they saw. */
struct kp_stack_check {
	struct kp_ranges *ranges;
	unsigned int nr_tasks;		/* tasks checked */
	struct kp_blockers blocked;	/* the first of those that hold it */
};

int kp_stack_init(void);
void kp_stack_exit(void);
struct kp_ranges *kp_collect_ranges(struct kp_patch *patch, bool to_patched);
struct kp_ranges *kp_ranges_install(struct kp_ranges *r);
struct kp_ranges *kp_ranges_installed(void);
void kp_ranges_drop_module(struct module *mod);
bool kp_stack_blocks(struct kp_stack_check *c, struct task_struct *task,
		     unsigned long *addr);
bool kp_stack_blocks_self(void);
void kp_report_blockers(struct kp_patch *patch, const struct kp_blockers *bl);

#endif /* KP_STACK_H */
