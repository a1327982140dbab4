/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.h - system states a patch creates or takes over (state.c).
 */
#ifndef KP_STATE_H
#define KP_STATE_H

#include "core.h"

#define kp_for_each_state(rec, s)					\
	for (s = (const struct kp_state_rec *)(unsigned long)(rec)->states; \
	     s < (const struct kp_state_rec *)(unsigned long)(rec)->states_end; \
	     s++)

int kp_states_check(struct kp_patch *patch);

#endif /* KP_STATE_H */
