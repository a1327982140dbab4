/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KP_SELFSWITCH_H
#define KP_SELFSWITCH_H

#include <linux/sched.h>

struct kp_pending;

void kp_selfswitch_queue(struct task_struct *task, unsigned int gen);
void kp_selfswitch_drop(struct kp_pending *p);
void kp_selfswitch_wait(void);

#endif
