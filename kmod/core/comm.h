/* SPDX-License-Identifier: GPL-2.0 */
/*
 * comm.h - a task's comm as one field of a line (comm.c).
 */
#ifndef KP_COMM_H
#define KP_COMM_H

#include <linux/sched.h>

/* Room for a comm with every byte escaped (\xHH), and its NUL. */
#define KP_COMM_ESC_LEN	(TASK_COMM_LEN * 4)

void kp_comm_escape(char *dst, const char *comm);
void kp_task_comm(char *dst, struct task_struct *task);

#endif /* KP_COMM_H */
