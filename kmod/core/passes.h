/* SPDX-License-Identifier: GPL-2.0 */
/*
 * passes.h - the passes of a transition over the tasks (the stop_machine
 * full and canary passes, the task pass) and the NMI handshake of the full
 * pass (passes.c), and kp_synchronize().  transition.c decides
 * when a pass runs and what follows from it; a pass only looks at the
 * tasks, fills the table of pending tasks and flips.
 */
#ifndef KP_PASSES_H
#define KP_PASSES_H

#include "core.h"
#include "pending.h"
#include "stack.h"

/* One pass, serialised by kp_mutex. */
struct kp_pass {
	/* Set by the caller. */
	struct kp_patch *patch;
	bool to_patched;		/* the target state: patched */
	bool first;			/* first pass: may flip at once */
	struct kp_pending *cur;		/* the table in force, if any */
	struct kp_pending *build;	/* full, canary pass: the new table */
	unsigned int *gen;		/* bumped when a new table goes in */
	/* Canary pass: the tasks it takes, and who learns the table. */
	bool (*selects)(struct task_struct *task);
	void (*publish)(struct kp_pending *p);
	/* Filled inside stop_machine. */
	struct kp_stack_check c;
	u64 pause_ns;
	bool overflow;			/* more tasks than the table holds */
	unsigned long stopper_addr;	/* the patch replaces stop_machine code */
	bool done;			/* no task left on the old state */
	bool blocked;			/* canary: a canary task holds old code */
	unsigned int switched;		/* task pass: tasks switched */
	/* The handshake of a full pass. */
	int step;			/* what the other stoppers do */
	atomic_t acks;			/* stoppers that did it */
};

int kp_passes_init(void);
void kp_passes_exit(void);
struct kp_pending *kp_pass_table(unsigned int room, bool to_patched);
int kp_pass_full(struct kp_pass *ps);
int kp_pass_tasks(struct kp_pass *ps);
int kp_pass_canary(struct kp_pass *ps);
bool kp_pop_funcs(struct kp_patch *patch, bool enabled);
void kp_unmark_funcs(struct kp_patch *patch);
void kp_synchronize(void);

#endif /* KP_PASSES_H */
