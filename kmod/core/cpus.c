// SPDX-License-Identifier: GPL-2.0
/*
 * cpus.c - does every online CPU answer?
 *
 * stop_machine() waits, with no bound, until every online CPU runs its
 * stopper, and meanwhile multi_cpu_stop() spins every CPU that came.  A CPU
 * that cannot schedule (spinning on a lock an Oops left held, a lockup with
 * preemption or interrupts off) then freezes the machine: every other CPU
 * spins in its stopper, kp_mutex stays held, and every module load blocks in
 * kp's module notifier.  That is exactly when probation rolls a patch back
 * (issue 25, item 1).  So before each stop_machine kp asks every other
 * online CPU (the one it runs on schedules) to run a no-op on its stopper
 * (stop_one_cpu_nowait()) and waits for the answers up to cpu_answer_ms: a CPU that did not answer is stuck, and the
 * caller stops nothing (passes.c, values.c; a disable that cannot start is
 * undone, core.c; probation.c asks before it takes kp_mutex, and defers the
 * rollback).
 *
 * A stopper work cannot be taken back: the no-op queued on a stuck CPU stays
 * queued, in a static per-CPU buffer, until the CPU schedules.  The next
 * probe queues no other, and when the one queued has waited longer than
 * cpu_answer_ms already it answers at once that the CPU is stuck: a caller
 * that retries under kp_mutex waits once, not every time.  kp_core's exit
 * waits for the queued no-ops.
 *
 * A CPU can still get stuck between its answer and the stop_machine that
 * follows: the probe narrows that window, it cannot close it.
 * kp_synchronize() (passes.c: a work on every CPU) is not probed: it follows
 * a stop_machine that every CPU just ran.  livepatch needs none of this: it
 * never stops the machine (klp_try_switch_task() switches one task at a time
 * from its transition work), and it has no automatic rollback.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/stop_machine.h>
#include <linux/wait.h>
#include "cpus.h"
#include "kallsyms.h"

static unsigned int kp_answer_ms = 1000;

static int kp_answer_ms_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 60000);
}

static const struct kernel_param_ops kp_answer_ms_ops = {
	.set = kp_answer_ms_set,
	.get = param_get_uint,
};

module_param_cb(cpu_answer_ms, &kp_answer_ms_ops, &kp_answer_ms, 0644);
MODULE_PARM_DESC(cpu_answer_ms, "milliseconds every online CPU has to answer before kp stops the machine (1 to 60000, default 1000)");

struct kp_cpu_probe {
	struct cpu_stop_work work;
	atomic_t queued;		/* the no-op has not run yet */
	u64 since_ns;			/* when it was queued */
	bool reported;			/* the log said its CPU is stuck */
};

static DEFINE_PER_CPU(struct kp_cpu_probe, kp_cpu_probes);
static DEFINE_MUTEX(kp_cpus_mutex);	/* one probe at a time */
static DECLARE_WAIT_QUEUE_HEAD(kp_cpus_wq);
static atomic_t kp_cpus_queued = ATOMIC_INIT(0);

/* On the CPU's stopper (preemption disabled): it answered. */
static int kp_cpu_noop(void *data)
{
	struct kp_cpu_probe *p = data;

	atomic_set_release(&p->queued, 0);
	atomic_dec(&kp_cpus_queued);
	wake_up_all(&kp_cpus_wq);
	return 0;
}

/* Queue the no-op on @cpu unless the last one is still queued. */
static void kp_cpu_queue(int cpu, u64 now)
{
	struct kp_cpu_probe *p = per_cpu_ptr(&kp_cpu_probes, cpu);

	if (atomic_read(&p->queued))
		return;
	atomic_set(&p->queued, 1);
	p->since_ns = now;
	atomic_inc(&kp_cpus_queued);
	if (!kp_stop_one_cpu_nowait(cpu, kp_cpu_noop, p, &p->work)) {
		/* Its stopper is off: the CPU is going offline. */
		atomic_set(&p->queued, 0);
		atomic_dec(&kp_cpus_queued);
	}
}

static bool kp_cpus_answered(int self)
{
	int cpu;

	for_each_online_cpu(cpu)
		if (cpu != self &&
		    atomic_read(&per_cpu_ptr(&kp_cpu_probes, cpu)->queued))
			return false;
	return true;
}

/*
 * Ask every online CPU to answer (process context, no spinlock held): 0 when
 * each did within cpu_answer_ms, else -ETIMEDOUT and, when @stuck is not
 * NULL, the first that did not.  The log says once when a CPU stops
 * answering, and when it answers again.
 */
int kp_cpus_answer(struct kp_cpus_stuck *stuck)
{
	u64 limit = (u64)READ_ONCE(kp_answer_ms) * NSEC_PER_MSEC;
	u64 now = ktime_get_ns();
	bool overdue = false, stuck_seen = false;
	int cpu, self, ret = 0;

	mutex_lock(&kp_cpus_mutex);
	cpus_read_lock();
	/* This task runs: its CPU schedules (the probe only sleeps on it). */
	self = raw_smp_processor_id();
	for_each_online_cpu(cpu) {
		struct kp_cpu_probe *p = per_cpu_ptr(&kp_cpu_probes, cpu);

		if (cpu == self)
			continue;
		kp_cpu_queue(cpu, now);
		if (atomic_read(&p->queued) && now - p->since_ns >= limit)
			overdue = true;
	}
	if (!overdue)
		wait_event_timeout(kp_cpus_wq, kp_cpus_answered(self),
				   nsecs_to_jiffies(limit) + 1);
	now = ktime_get_ns();
	for_each_online_cpu(cpu) {
		struct kp_cpu_probe *p = per_cpu_ptr(&kp_cpu_probes, cpu);
		u64 ms = div_u64(now - p->since_ns, NSEC_PER_MSEC);

		if (cpu == self)
			continue;
		if (!atomic_read_acquire(&p->queued)) {
			if (p->reported)
				pr_info("CPU %d answers again\n", cpu);
			p->reported = false;
			continue;
		}
		ret = -ETIMEDOUT;
		if (overdue && now - p->since_ns < limit)
			continue;	/* not waited for: another was stuck */
		if (!stuck_seen && stuck) {
			stuck->cpu = cpu;
			stuck->ms = ms;
		}
		stuck_seen = true;
		if (!p->reported)
			pr_err("CPU %d has not run its stopper for %llu ms: it cannot schedule (a spinlock left held by a task that died? a lockup?); kp stops no machine until it does\n",
			       cpu, ms);
		p->reported = true;
	}
	cpus_read_unlock();
	mutex_unlock(&kp_cpus_mutex);
	return ret;
}

/*
 * Every machine-wide stop kp makes: every online CPU answers first, then
 * stop_machine(); counted (module parameter stop_machine_count), so that a
 * test can see a transition stop no machine after its first pass.
 */
static atomic_t kp_stops = ATOMIC_INIT(0);

static int kp_stops_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&kp_stops));
}

static const struct kernel_param_ops kp_stops_ops = {
	.get = kp_stops_get,
};

module_param_cb(stop_machine_count, &kp_stops_ops, NULL, 0444);
MODULE_PARM_DESC(stop_machine_count, "machine-wide stops (stop_machine) kp made since it was loaded");

int kp_cpus_stop(cpu_stop_fn_t fn, void *data, const struct cpumask *cpus)
{
	int ret = kp_cpus_answer(NULL);

	if (ret)
		return ret;
	atomic_inc(&kp_stops);
	return stop_machine(fn, data, cpus);
}

/*
 * Stop @cpu alone and run @fn there (its stopper, preemption disabled), once
 * every online CPU answered: the task @cpu ran is then not running.
 */
int kp_cpus_stop_one(unsigned int cpu, cpu_stop_fn_t fn, void *data)
{
	return kp_cpus_answer(NULL) ?: kp_stop_one_cpu(cpu, fn, data);
}

/*
 * No patch is left: wait until every no-op queued has run and left this
 * module's code (the stopper runs it with preemption disabled).
 */
void kp_cpus_exit(void)
{
	while (!wait_event_timeout(kp_cpus_wq, !atomic_read(&kp_cpus_queued),
				   10 * HZ))
		pr_warn("unloading: waiting for a CPU that has not answered to run kp's no-op\n");
	synchronize_rcu();
}
