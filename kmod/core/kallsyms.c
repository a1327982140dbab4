// SPDX-License-Identifier: GPL-2.0
/*
 * kallsyms.c - reach the kernel services kp needs that 6.1 and 6.12 do not
 * export.
 *
 * kallsyms_lookup_name() itself is not exported since 5.7; a kprobe registered
 * on it tells us its address, and from there every other service is found by
 * name.  Each service has one thin wrapper here; what kp does with it lives
 * elsewhere (symbols.c, build_id.c, stack.c, passes.c, transition.c,
 * reloc.c, cpus.c).
 *
 * Each service is reached through a static call, i.e. a direct call patched
 * to its address, never through a function pointer: with IBT, objtool seals
 * the ENDBR of every function whose address the kernel never takes (all of
 * these but text_poke() on Debian's 6.12), and an indirect call to one is a
 * control-protection fault (#CP) on a CPU that enforces IBT.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/stacktrace.h>
#include <linux/static_call.h>
#include <linux/stop_machine.h>
#include <linux/task_work.h>
#include <asm/text-patching.h>
#include "compat.h"
#include "kallsyms.h"

/*
 * kallsyms_on_each_symbol() walks vmlinux's symbols; up to 6.1 its callback
 * also took a module, always NULL (6.2 dropped it).  The static calls take
 * their types from the kernel's own declarations.
 */
DEFINE_STATIC_CALL_NULL(kp_sc_lookup_name, kallsyms_lookup_name);
DEFINE_STATIC_CALL_NULL(kp_sc_on_each_symbol, kallsyms_on_each_symbol);
DEFINE_STATIC_CALL_NULL(kp_sc_lookup_size_offset, kallsyms_lookup_size_offset);
DEFINE_STATIC_CALL_NULL(kp_sc_stack_reliable, stack_trace_save_tsk_reliable);
DEFINE_STATIC_CALL_NULL(kp_sc_stack_regs, stack_trace_save_regs);
DEFINE_STATIC_CALL_NULL(kp_sc_idle_task, idle_task);
DEFINE_STATIC_CALL_NULL(kp_sc_wake_up_state, wake_up_state);
DEFINE_STATIC_CALL_NULL(kp_sc_task_work_cancel, task_work_cancel_match);
DEFINE_STATIC_CALL_NULL(kp_sc_find_module, find_module);
DEFINE_STATIC_CALL_NULL(kp_sc_ftrace_location, ftrace_location);
DEFINE_STATIC_CALL_NULL(kp_sc_text_poke, text_poke);
DEFINE_STATIC_CALL_NULL(kp_sc_text_poke_sync, text_poke_sync);
DEFINE_STATIC_CALL_NULL(kp_sc_stop_one_cpu_nowait, stop_one_cpu_nowait);
DEFINE_STATIC_CALL_NULL(kp_sc_stop_one_cpu, stop_one_cpu);
DEFINE_STATIC_CALL_NULL(kp_sc_task_call_func, task_call_func);
static struct mutex *kp_text_mutex;
static struct mutex *kp_module_mutex;
static const char *kp_notes_start;
static const char *kp_notes_end;

static int kp_find_kallsyms_lookup_name(void)
{
	struct kprobe probe = { .symbol_name = "kallsyms_lookup_name" };
	int ret;

	ret = register_kprobe(&probe);
	if (ret) {
		pr_err("cannot find kallsyms_lookup_name: register_kprobe failed (%d)\n",
		       ret);
		return ret;
	}
	unregister_kprobe(&probe);
	if (!probe.addr) {
		pr_err("cannot find kallsyms_lookup_name: kprobe gave no address\n");
		return -ENOENT;
	}
	static_call_update(kp_sc_lookup_name,
			   (typeof(&kallsyms_lookup_name))probe.addr);
	return 0;
}

/* The address of vmlinux symbol @name into *@addr, an error when it has none. */
static int kp_need_addr(const char *name, unsigned long *addr)
{
	*addr = static_call(kp_sc_lookup_name)(name);
	if (!*addr) {
		pr_err("required kernel symbol %s not found in kallsyms\n", name);
		return -ENOENT;
	}
	return 0;
}

/* Data: its address into *@ptr. */
static int kp_need(const char *name, void *ptr)
{
	return kp_need_addr(name, ptr);
}

/* A function: static call @sc made a direct call to it. */
#define kp_need_call(name, sc)						\
({									\
	unsigned long __addr;						\
	int __ret = kp_need_addr(#name, &__addr);			\
									\
	if (!__ret)							\
		static_call_update(sc, (typeof(&name))__addr);		\
	__ret;								\
})

int kp_kallsyms_init(void)
{
	int ret;

	ret = kp_find_kallsyms_lookup_name();
	if (ret)
		return ret;

	ret = kp_need_call(kallsyms_on_each_symbol, kp_sc_on_each_symbol) ?:
	      kp_need_call(kallsyms_lookup_size_offset,
			   kp_sc_lookup_size_offset) ?:
	      kp_need_call(stack_trace_save_tsk_reliable, kp_sc_stack_reliable) ?:
	      kp_need_call(stack_trace_save_regs, kp_sc_stack_regs) ?:
	      kp_need_call(idle_task, kp_sc_idle_task) ?:
	      kp_need_call(wake_up_state, kp_sc_wake_up_state) ?:
	      kp_need_call(task_work_cancel_match, kp_sc_task_work_cancel) ?:
	      kp_need_call(find_module, kp_sc_find_module) ?:
	      kp_need_call(ftrace_location, kp_sc_ftrace_location) ?:
	      kp_need_call(text_poke, kp_sc_text_poke) ?:
	      kp_need_call(text_poke_sync, kp_sc_text_poke_sync) ?:
	      kp_need_call(stop_one_cpu_nowait, kp_sc_stop_one_cpu_nowait) ?:
	      kp_need_call(stop_one_cpu, kp_sc_stop_one_cpu) ?:
	      kp_need_call(task_call_func, kp_sc_task_call_func) ?:
	      kp_need("text_mutex", &kp_text_mutex) ?:
	      kp_need("module_mutex", &kp_module_mutex) ?:
	      kp_need("__start_notes", &kp_notes_start) ?:
	      kp_need("__stop_notes", &kp_notes_end);
	return ret;
}

#ifdef KP_KALLSYMS_CB_NO_MODULE
int kp_kallsyms_on_each_symbol(int (*fn)(void *, const char *, unsigned long),
			       void *data)
{
	return static_call(kp_sc_on_each_symbol)(fn, data);
}
#else
struct kp_each_symbol {
	int (*fn)(void *data, const char *name, unsigned long addr);
	void *data;
};

static int kp_each_symbol_call(void *data, const char *name,
			       struct module *mod, unsigned long addr)
{
	struct kp_each_symbol *each = data;

	return mod ? 0 : each->fn(each->data, name, addr);
}

int kp_kallsyms_on_each_symbol(int (*fn)(void *, const char *, unsigned long),
			       void *data)
{
	struct kp_each_symbol each = { .fn = fn, .data = data };

	return static_call(kp_sc_on_each_symbol)(kp_each_symbol_call, &each);
}
#endif

/* The address of vmlinux symbol @name, 0 when there is none (no message). */
unsigned long kp_symbol_address(const char *name)
{
	return static_call(kp_sc_lookup_name)(name);
}

bool kp_symbol_size(unsigned long addr, unsigned long *size,
		    unsigned long *offset)
{
	return static_call(kp_sc_lookup_size_offset)(addr, size, offset);
}

void kp_module_lock(void)
{
	mutex_lock(kp_module_mutex);
}

void kp_module_unlock(void)
{
	mutex_unlock(kp_module_mutex);
}

/* The ELF notes of vmlinux (its build ID among them). */
void kp_kernel_notes(const char **start, const char **end)
{
	*start = kp_notes_start;
	*end = kp_notes_end;
}

/* Caller holds the module mutex (kp_module_lock). */
struct module *kp_find_module(const char *name)
{
	return static_call(kp_sc_find_module)(name);
}

int kp_stack_reliable(struct task_struct *tsk, unsigned long *store,
		      unsigned int size)
{
	return static_call(kp_sc_stack_reliable)(tsk, store, size);
}

/* The stack of the context @regs interrupted (any context). */
unsigned int kp_stack_save_regs(struct pt_regs *regs, unsigned long *store,
				unsigned int size)
{
	return static_call(kp_sc_stack_regs)(regs, store, size, 0);
}

struct callback_head *kp_task_work_cancel(struct task_struct *task,
					  bool (*match)(struct callback_head *, void *),
					  void *data)
{
	return static_call(kp_sc_task_work_cancel)(task, match, data);
}

int kp_wake_up_state(struct task_struct *task, unsigned int state)
{
	return static_call(kp_sc_wake_up_state)(task, state);
}

struct task_struct *kp_idle_task(int cpu)
{
	return static_call(kp_sc_idle_task)(cpu);
}

unsigned long kp_ftrace_location(unsigned long addr)
{
	return static_call(kp_sc_ftrace_location)(addr);
}

void kp_text_poke(void *addr, const void *opcode, size_t len)
{
	mutex_lock(kp_text_mutex);
	static_call(kp_sc_text_poke)(addr, opcode, len);
	mutex_unlock(kp_text_mutex);
}

void kp_text_poke_sync(void)
{
	static_call(kp_sc_text_poke_sync)();
}

/* Queue @fn on @cpu's stopper; false when the stopper is off (CPU going). */
bool kp_stop_one_cpu_nowait(unsigned int cpu, cpu_stop_fn_t fn, void *arg,
			    struct cpu_stop_work *work)
{
	return static_call(kp_sc_stop_one_cpu_nowait)(cpu, fn, arg, work);
}

/* Run @fn on @cpu's stopper and wait for it. */
int kp_stop_one_cpu(unsigned int cpu, cpu_stop_fn_t fn, void *arg)
{
	return static_call(kp_sc_stop_one_cpu)(cpu, fn, arg);
}

/* @fn(@task, @arg) with @task fixed: it neither runs nor wakes meanwhile. */
int kp_task_call_func(struct task_struct *task, task_call_f fn, void *arg)
{
	return static_call(kp_sc_task_call_func)(task, fn, arg);
}
