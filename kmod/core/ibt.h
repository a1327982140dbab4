/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ibt.h - the target functions whose address a patch takes start with ENDBR64
 * in the running kernel (kp_addrs records, ibt.c).
 */
#ifndef KP_IBT_H
#define KP_IBT_H

#include "core.h"

int kp_check_addr_records(struct kp_patch *patch);
int kp_verify_addrs(struct kp_patch *patch, struct kp_object *obj);

#endif /* KP_IBT_H */
