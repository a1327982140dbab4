/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kallsyms.h - the kernel services kp needs that Linux 6.1 and 6.12 do not
 * export to modules, found by name through kallsyms (kallsyms.c).
 */
#ifndef KP_KALLSYMS_H
#define KP_KALLSYMS_H

#include <linux/module.h>
#include <linux/sched.h>
#include <linux/stop_machine.h>
#include <linux/wait.h>

struct pt_regs;

int kp_kallsyms_init(void);
int kp_kallsyms_on_each_symbol(int (*fn)(void *, const char *, unsigned long),
			       void *data);
unsigned long kp_symbol_address(const char *name);
bool kp_symbol_size(unsigned long addr, unsigned long *size,
		    unsigned long *offset);
struct module *kp_find_module(const char *name);
void kp_module_lock(void);
void kp_module_unlock(void);
void kp_kernel_notes(const char **start, const char **end);
int kp_stack_reliable(struct task_struct *tsk, unsigned long *store,
		      unsigned int size);
unsigned int kp_stack_save_regs(struct pt_regs *regs, unsigned long *store,
				unsigned int size);
struct callback_head *kp_task_work_cancel(struct task_struct *task,
					  bool (*match)(struct callback_head *, void *),
					  void *data);
struct task_struct *kp_idle_task(int cpu);
int kp_wake_up_state(struct task_struct *task, unsigned int state);
unsigned long kp_ftrace_location(unsigned long addr);
void kp_text_poke(void *addr, const void *opcode, size_t len);
void kp_text_poke_sync(void);
bool kp_stop_one_cpu_nowait(unsigned int cpu, cpu_stop_fn_t fn, void *arg,
			    struct cpu_stop_work *work);
int kp_stop_one_cpu(unsigned int cpu, cpu_stop_fn_t fn, void *arg);
int kp_task_call_func(struct task_struct *task, task_call_f fn, void *arg);

#endif /* KP_KALLSYMS_H */
