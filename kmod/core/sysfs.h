/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sysfs.h - /sys/kernel/kp (sysfs.c).
 */
#ifndef KP_SYSFS_H
#define KP_SYSFS_H

#include "core.h"

int kp_sysfs_init(void);
void kp_sysfs_exit(void);
int kp_sysfs_add_patch(struct kp_patch *patch);
void kp_sysfs_del_patch(struct kp_patch *patch);
struct kobject *kp_sysfs_root(void);

#endif /* KP_SYSFS_H */
