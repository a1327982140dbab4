// SPDX-License-Identifier: GPL-2.0
/*
 * comm.c - a task's comm as one field of a line.  Any user can name its
 * task with any bytes but NUL (prctl(PR_SET_NAME), /proc/self/comm): a
 * newline, a space or a control character written raw into a log line or a
 * sysfs file (rolled_back, canary, pending_tasks, blocked) could end the
 * line and forge the next one, e.g. a "confirmed" rollback in
 * /sys/kernel/kp/rolled_back (issue 25).  Every byte outside '!'..'~', and
 * the backslash, is written as \xHH.  The kernel's own %pE would leave the
 * space, which separates kp's fields.
 */

#include <linux/string.h>
#include "comm.h"

/* @comm (NUL-terminated, at most TASK_COMM_LEN - 1 bytes) into @dst. */
void kp_comm_escape(char *dst, const char *comm)
{
	static const char hex[] = "0123456789abcdef";
	unsigned int i;

	for (i = 0; i < TASK_COMM_LEN - 1 && comm[i]; i++) {
		unsigned char c = comm[i];

		if (c > ' ' && c <= '~' && c != '\\') {
			*dst++ = c;
			continue;
		}
		*dst++ = '\\';
		*dst++ = 'x';
		*dst++ = hex[c >> 4];
		*dst++ = hex[c & 0xf];
	}
	*dst = '\0';
}

/*
 * @task's comm, escaped, into @dst (KP_COMM_ESC_LEN bytes).  Any context:
 * the comm is copied without task_lock(), as %s of task->comm does; a
 * concurrent rename gives a mix of both names, still one field.
 */
void kp_task_comm(char *dst, struct task_struct *task)
{
	char comm[TASK_COMM_LEN];

	memcpy(comm, task->comm, sizeof(comm));
	comm[TASK_COMM_LEN - 1] = '\0';
	kp_comm_escape(dst, comm);
}
