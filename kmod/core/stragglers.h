/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stragglers.h - the tasks that keep a transition from completing: what a
 * transition does when they outlive its timeout (the patch's on_timeout
 * policy), and the fake signals that kick them out of their sleeps
 * (stragglers.c).  The transition state machine is transition.c's.
 */
#ifndef KP_STRAGGLERS_H
#define KP_STRAGGLERS_H

#include "core.h"
#include "pending.h"

/*
 * Retry interval of a transition that outlived its timeout and stays
 * pending: livepatch's (klp_try_complete_transition() retries every second).
 */
#define KP_STALLED_RETRY_MS	1000

int kp_stragglers_policy(struct kp_patch *patch);
int kp_stragglers_parse(const char *buf, unsigned int *on_timeout);
const char *kp_stragglers_name(unsigned int on_timeout);
bool kp_stragglers_stay(struct kp_patch *patch, bool to_patched);
bool kp_stragglers_timeout(struct kp_patch *patch, bool to_patched,
			   unsigned int left, const struct kp_blockers *bl);
void kp_stragglers_kick(struct kp_patch *patch, struct kp_pending *p,
			u64 *signal_ns);

#endif /* KP_STRAGGLERS_H */
