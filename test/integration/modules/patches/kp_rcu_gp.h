/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kp_rcu_gp.h - rcu_get_gp_seq(), exported by kernel/rcu/tree.c but declared
 * only in kernel/rcu/rcu.h, for the test patch that must spin inside a grace
 * period (probation.c, KP_SPIN).  Its two low bits (RCU_SEQ_STATE_MASK) are
 * nonzero while a grace period is under way.
 */
#ifndef KP_RCU_GP_H
#define KP_RCU_GP_H

#define KP_RCU_SEQ_STATE_MASK	0x3UL

unsigned long rcu_get_gp_seq(void);

#endif /* KP_RCU_GP_H */
