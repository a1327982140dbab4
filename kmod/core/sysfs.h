/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sysfs.h - /sys/kernel/kp and its tree (sysfs.c), the files of a patch's
 * directory (sysfs_patch.c).
 */
#ifndef KP_SYSFS_H
#define KP_SYSFS_H

#include "core.h"

/* A sysfs page that a callback fills, @len bytes so far. */
struct kp_sysfs_page {
	char *buf;
	ssize_t len;
};

int kp_sysfs_init(void);
void kp_sysfs_exit(void);
int kp_sysfs_add_patch(struct kp_patch *patch);
void kp_sysfs_del_patch(struct kp_patch *patch);

/* The files of /sys/kernel/kp/<patch>/ (sysfs_patch.c). */
extern const struct attribute_group *kp_patch_groups[];

#endif /* KP_SYSFS_H */
