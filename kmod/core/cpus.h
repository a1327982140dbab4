/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cpus.h - does every online CPU answer? (cpus.c): asked before anything
 * that waits for every CPU (stop_machine), so that one stuck CPU does not
 * freeze the machine; and the stops themselves, counted.
 */
#ifndef KP_CPUS_H
#define KP_CPUS_H

#include <linux/stop_machine.h>
#include <linux/types.h>

/* The first CPU that did not answer, and for how long it has not. */
struct kp_cpus_stuck {
	int cpu;
	u64 ms;
};

int kp_cpus_answer(struct kp_cpus_stuck *stuck);
int kp_cpus_stop(cpu_stop_fn_t fn, void *data, const struct cpumask *cpus);
int kp_cpus_stop_one(unsigned int cpu, cpu_stop_fn_t fn, void *data);
void kp_cpus_exit(void);

#endif /* KP_CPUS_H */
