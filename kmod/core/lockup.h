/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lockup.h - pinning soft and hard lockups and RCU stalls on patches for
 * probation (lockup.c).
 */
#ifndef KP_LOCKUP_H
#define KP_LOCKUP_H

void kp_lockup_init(void);
void kp_lockup_exit(void);

#endif /* KP_LOCKUP_H */
