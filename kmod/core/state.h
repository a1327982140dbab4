/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.h - system states a patch creates or takes over (state.c).
 */
#ifndef KP_STATE_H
#define KP_STATE_H

#include "core.h"

int kp_states_check(struct kp_patch *patch);
ssize_t kp_states_emit(struct kp_patch *patch, char *buf);

#endif /* KP_STATE_H */
