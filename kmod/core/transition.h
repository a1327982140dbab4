/* SPDX-License-Identifier: GPL-2.0 */
/*
 * transition.h - switching a patch on or off task by task: the transition
 * state machine and its API (transition.c).
 */
#ifndef KP_TRANSITION_H
#define KP_TRANSITION_H

#include "core.h"
#include "pending.h"

/* The default transition timeout (module parameter transition_timeout). */
extern unsigned int kp_timeout_s;

/*
 * What a canary gives the transition that holds it open (canary.c): which
 * tasks it takes and who learns their table, both called inside the
 * stop_machine pass that opens it, and what closes it when it ends (promote
 * or abort, kp_mutex held).
 */
struct kp_canary_ops {
	bool (*selects)(struct task_struct *task);
	void (*publish)(struct kp_pending *p);
	void (*close)(void);
};

int kp_transition_init(void);
void kp_transition_exit(void);
struct kp_trans_start;

int kp_transition(struct kp_patch *patch, bool enable);
struct kp_trans_start *kp_transition_prepare(struct kp_patch *patch,
					     bool enable);
void kp_transition_unprepare(struct kp_trans_start *st);
int kp_transition_start(struct kp_patch *patch, bool enable,
			struct kp_trans_start *st);
int kp_transition_force(struct kp_patch *patch);
int kp_transition_canary(struct kp_patch *patch,
			 const struct kp_canary_ops *ops, unsigned int room);
bool kp_transition_canary_open(struct kp_patch *patch);
int kp_transition_canary_end(struct kp_patch *patch, bool promote);
int kp_transition_push_object(struct kp_patch *patch, struct kp_object *obj);
struct kp_patch *kp_transition_other(struct kp_patch *patch);
int kp_transition_busy(struct kp_patch *patch, bool enable);
bool kp_in_transition(struct kp_patch *patch);
u64 kp_transition_elapsed_ms(struct kp_patch *patch);
bool kp_transition_stalled(struct kp_patch *patch);
struct kp_pending *kp_transition_pending(struct kp_patch *patch);

bool kp_transition_gen_is(unsigned int gen);
void kp_transition_kick(void);

#endif /* KP_TRANSITION_H */
