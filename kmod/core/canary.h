/* SPDX-License-Identifier: GPL-2.0 */
/*
 * canary.h - a patch in force for a few tasks first (canary.c): who they
 * are, the tasks they create, and the files that start and end a canary.
 */
#ifndef KP_CANARY_H
#define KP_CANARY_H

#include <linux/sysfs.h>
#include "core.h"
#include "pending.h"

/* The patch directory's canary file (sysfs.c adds the group). */
extern const struct attribute_group kp_canary_group;

int kp_canary_init(void);
void kp_canary_exit(void);
int kp_canary_enable(struct kp_patch *patch);
bool kp_canary_selects(struct task_struct *task);
void kp_canary_publish(struct kp_pending *p);
void kp_canary_close(void);

#endif /* KP_CANARY_H */
