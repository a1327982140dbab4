/* SPDX-License-Identifier: GPL-2.0 */
/*
 * canary.h - a patch in force for a few tasks first (canary.c): arming one,
 * who its tasks are, the tasks they create; a one-way user of the
 * transition (transition.h), whose sysfs files are sysfs.c's (the root's
 * canary) and sysfs_patch.c's (<patch>/canary).
 */
#ifndef KP_CANARY_H
#define KP_CANARY_H

#include "core.h"

#define KP_CANARY_MAX_PIDS	64

/* The processes of a canary, armed or open. */
struct kp_canary_set {
	char name[MODULE_NAME_LEN];	/* the patch */
	struct pid *owner;		/* the process that armed it */
	unsigned int nr;
	struct pid *pids[KP_CANARY_MAX_PIDS];	/* thread group ids */
};

int kp_canary_init(void);
void kp_canary_exit(void);
int kp_canary_enable(struct kp_patch *patch);
int kp_canary_arm(const char *buf, size_t count);
const struct kp_canary_set *kp_canary_armed_set(void);
/* Called on each canary task; false stops. */
typedef bool (*kp_canary_task_fn)(struct task_struct *task, void *data);

void kp_canary_walk_tasks(struct kp_patch *patch, kp_canary_task_fn fn,
			  void *data);

#endif /* KP_CANARY_H */
