// SPDX-License-Identifier: GPL-2.0
/*
 * kallsyms.c - reach the kernel services kp needs that 6.1 and 6.12 do not
 * export.
 *
 * kallsyms_lookup_name() itself is not exported since 5.7; a kprobe registered
 * on it tells us its address, and from there every other service is found by
 * name.  Each service has one thin wrapper here; what kp does with it lives
 * elsewhere (symbols.c, build_id.c, stack.c, passes.c, transition.c,
 * reloc.c).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/stacktrace.h>
#include "compat.h"
#include "kallsyms.h"

static unsigned long (*kp_kallsyms_lookup_name)(const char *name);
/*
 * kallsyms_on_each_symbol() walks vmlinux's symbols; up to 6.1 its callback
 * also took a module, always NULL (6.2 dropped it).
 */
#ifdef KP_KALLSYMS_CB_NO_MODULE
typedef int (*kp_each_symbol_cb)(void *, const char *, unsigned long);
#else
typedef int (*kp_each_symbol_cb)(void *, const char *, struct module *,
				 unsigned long);
#endif
static int (*kp_kallsyms_on_each_symbol_fn)(kp_each_symbol_cb fn, void *data);
static int (*kp_kallsyms_lookup_size_offset)(unsigned long addr,
					     unsigned long *size,
					     unsigned long *offset);
static int (*kp_stack_trace_save_tsk_reliable)(struct task_struct *tsk,
					       unsigned long *store,
					       unsigned int size);
static unsigned int (*kp_stack_trace_save_regs_fn)(struct pt_regs *regs,
						   unsigned long *store,
						   unsigned int size,
						   unsigned int skipnr);
static struct task_struct *(*kp_idle_task_fn)(int cpu);
static int (*kp_wake_up_state_fn)(struct task_struct *p, unsigned int state);
static struct callback_head *(*kp_task_work_cancel_fn)(struct task_struct *task,
		bool (*match)(struct callback_head *, void *), void *data);
static struct module *(*kp_find_module_fn)(const char *name);
static unsigned long (*kp_ftrace_location_fn)(unsigned long ip);
static void *(*kp_text_poke_fn)(void *addr, const void *opcode, size_t len);
static void (*kp_text_poke_sync_fn)(void);
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
	kp_kallsyms_lookup_name = (void *)probe.addr;
	unregister_kprobe(&probe);
	if (!kp_kallsyms_lookup_name) {
		pr_err("cannot find kallsyms_lookup_name: kprobe gave no address\n");
		return -ENOENT;
	}
	return 0;
}

static int kp_need(const char *name, void *ptr)
{
	unsigned long addr = kp_kallsyms_lookup_name(name);

	if (!addr) {
		pr_err("required kernel symbol %s not found in kallsyms\n", name);
		return -ENOENT;
	}
	*(unsigned long *)ptr = addr;
	return 0;
}

int kp_kallsyms_init(void)
{
	int ret;

	ret = kp_find_kallsyms_lookup_name();
	if (ret)
		return ret;

	ret = kp_need("kallsyms_on_each_symbol", &kp_kallsyms_on_each_symbol_fn) ?:
	      kp_need("kallsyms_lookup_size_offset",
		      &kp_kallsyms_lookup_size_offset) ?:
	      kp_need("stack_trace_save_tsk_reliable",
		      &kp_stack_trace_save_tsk_reliable) ?:
	      kp_need("stack_trace_save_regs", &kp_stack_trace_save_regs_fn) ?:
	      kp_need("idle_task", &kp_idle_task_fn) ?:
	      kp_need("wake_up_state", &kp_wake_up_state_fn) ?:
	      kp_need("task_work_cancel_match", &kp_task_work_cancel_fn) ?:
	      kp_need("find_module", &kp_find_module_fn) ?:
	      kp_need("ftrace_location", &kp_ftrace_location_fn) ?:
	      kp_need("text_poke", &kp_text_poke_fn) ?:
	      kp_need("text_poke_sync", &kp_text_poke_sync_fn) ?:
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
	return kp_kallsyms_on_each_symbol_fn(fn, data);
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

	return kp_kallsyms_on_each_symbol_fn(kp_each_symbol_call, &each);
}
#endif

/* The address of vmlinux symbol @name, 0 when there is none (no message). */
unsigned long kp_symbol_address(const char *name)
{
	return kp_kallsyms_lookup_name(name);
}

bool kp_symbol_size(unsigned long addr, unsigned long *size,
		    unsigned long *offset)
{
	return kp_kallsyms_lookup_size_offset(addr, size, offset);
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
	return kp_find_module_fn(name);
}

int kp_stack_reliable(struct task_struct *tsk, unsigned long *store,
		      unsigned int size)
{
	return kp_stack_trace_save_tsk_reliable(tsk, store, size);
}

/* The stack of the context @regs interrupted (any context). */
unsigned int kp_stack_save_regs(struct pt_regs *regs, unsigned long *store,
				unsigned int size)
{
	return kp_stack_trace_save_regs_fn(regs, store, size, 0);
}

struct callback_head *kp_task_work_cancel(struct task_struct *task,
					  bool (*match)(struct callback_head *, void *),
					  void *data)
{
	return kp_task_work_cancel_fn(task, match, data);
}

int kp_wake_up_state(struct task_struct *task, unsigned int state)
{
	return kp_wake_up_state_fn(task, state);
}

struct task_struct *kp_idle_task(int cpu)
{
	return kp_idle_task_fn(cpu);
}

unsigned long kp_ftrace_location(unsigned long addr)
{
	return kp_ftrace_location_fn(addr);
}

void kp_text_poke(void *addr, const void *opcode, size_t len)
{
	mutex_lock(kp_text_mutex);
	kp_text_poke_fn(addr, opcode, len);
	mutex_unlock(kp_text_mutex);
}

void kp_text_poke_sync(void)
{
	kp_text_poke_sync_fn();
}
