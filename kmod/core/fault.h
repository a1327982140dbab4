/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fault.h - catching the kernel's faults and warnings for probation
 * (fault.c).
 */
#ifndef KP_FAULT_H
#define KP_FAULT_H

int kp_fault_init(void);
void kp_fault_exit(void);

#endif /* KP_FAULT_H */
