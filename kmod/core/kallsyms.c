// SPDX-License-Identifier: GPL-2.0
/*
 * kallsyms.c - reach the kernel services kp needs that 6.1 does not export.
 *
 * kallsyms_lookup_name() itself is not exported since 5.7; a kprobe registered
 * on it tells us its address, and from there every other service is found by
 * name.  Symbols of patch targets are looked up by object, name and sympos.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/elf.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/stacktrace.h>
#include "kp_core.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

static unsigned long (*kp_kallsyms_lookup_name)(const char *name);
static int (*kp_kallsyms_on_each_symbol)(int (*fn)(void *, const char *,
						   struct module *,
						   unsigned long),
					 void *data);
static int (*kp_kallsyms_lookup_size_offset)(unsigned long addr,
					     unsigned long *size,
					     unsigned long *offset);
static int (*kp_stack_trace_save_tsk_reliable)(struct task_struct *tsk,
					       unsigned long *store,
					       unsigned int size);
static struct task_struct *(*kp_idle_task_fn)(int cpu);
static int (*kp_wake_up_state_fn)(struct task_struct *p, unsigned int state);
static struct callback_head *(*kp_task_work_cancel_fn)(struct task_struct *task,
		bool (*match)(struct callback_head *, void *), void *data);
static struct module *(*kp_find_module_fn)(const char *name);
static unsigned long (*kp_ftrace_location_fn)(unsigned long ip);
static void *(*kp_text_poke_fn)(void *addr, const void *opcode, size_t len);
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

	ret = kp_need("kallsyms_on_each_symbol", &kp_kallsyms_on_each_symbol) ?:
	      kp_need("kallsyms_lookup_size_offset",
		      &kp_kallsyms_lookup_size_offset) ?:
	      kp_need("stack_trace_save_tsk_reliable",
		      &kp_stack_trace_save_tsk_reliable) ?:
	      kp_need("idle_task", &kp_idle_task_fn) ?:
	      kp_need("wake_up_state", &kp_wake_up_state_fn) ?:
	      kp_need("task_work_cancel_match", &kp_task_work_cancel_fn) ?:
	      kp_need("find_module", &kp_find_module_fn) ?:
	      kp_need("ftrace_location", &kp_ftrace_location_fn) ?:
	      kp_need("text_poke", &kp_text_poke_fn) ?:
	      kp_need("text_mutex", &kp_text_mutex) ?:
	      kp_need("module_mutex", &kp_module_mutex) ?:
	      kp_need("__start_notes", &kp_notes_start) ?:
	      kp_need("__stop_notes", &kp_notes_end);
	return ret;
}

bool kp_is_vmlinux(const char *objname)
{
	return !strcmp(objname, KP_OBJ_VMLINUX);
}

#define KP_MAX_DUPS 64

struct kp_sym {
	unsigned long addr;
	unsigned long size;	/* ELF st_size for modules, 0 for vmlinux */
};

struct kp_match {
	const char *name;
	unsigned int count;
	struct kp_sym syms[KP_MAX_DUPS];
};

static void kp_match_add(struct kp_match *m, unsigned long addr,
			 unsigned long size)
{
	if (m->count < KP_MAX_DUPS) {
		m->syms[m->count].addr = addr;
		m->syms[m->count].size = size;
	}
	m->count++;
}

static int kp_vmlinux_cb(void *data, const char *name, struct module *mod,
			 unsigned long addr)
{
	struct kp_match *m = data;

	if (!mod && !strcmp(name, m->name))
		kp_match_add(m, addr, 0);
	return 0;
}

static void kp_module_symbols(struct module *mod, struct kp_match *m)
{
	struct mod_kallsyms *ks;
	unsigned int i;

	preempt_disable();
	ks = rcu_dereference_sched(mod->kallsyms);
	for (i = 0; i < ks->num_symtab; i++) {
		const Elf_Sym *sym = &ks->symtab[i];

		if (sym->st_shndx == SHN_UNDEF ||
		    ELF_ST_TYPE(sym->st_info) == STT_FILE ||
		    ELF_ST_TYPE(sym->st_info) == STT_SECTION)
			continue;
		if (!strcmp(ks->strtab + sym->st_name, m->name))
			kp_match_add(m, sym->st_value, sym->st_size);
	}
	preempt_enable();
}

static int kp_cmp_sym(const void *a, const void *b)
{
	unsigned long x = ((const struct kp_sym *)a)->addr;
	unsigned long y = ((const struct kp_sym *)b)->addr;

	return x < y ? -1 : x > y;
}

/*
 * Resolve @name in @objname (@mod must be the loaded module when @objname is
 * not vmlinux).  sympos 0: the name must be unique; N: the N-th symbol of that
 * name in address order.  @elf_size (optional) gets the symbol's ELF size when
 * known (module symbols), else 0.
 */
int kp_lookup(const char *objname, struct module *mod, const char *name,
	      unsigned long sympos, unsigned long *addr,
	      unsigned long *elf_size)
{
	struct kp_match *m;
	int ret = 0;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->name = name;
	if (kp_is_vmlinux(objname))
		kp_kallsyms_on_each_symbol(kp_vmlinux_cb, m);
	else if (mod)
		kp_module_symbols(mod, m);

	if (!m->count) {
		pr_err("symbol %s not found in %s\n", name, objname);
		ret = -ENOENT;
	} else if (m->count > KP_MAX_DUPS) {
		pr_err("symbol %s has too many (%u) instances in %s\n", name,
		       m->count, objname);
		ret = -E2BIG;
	} else if (sympos == 0 && m->count > 1) {
		pr_err("symbol %s is ambiguous in %s: %u instances and sympos 0\n",
		       name, objname, m->count);
		ret = -EINVAL;
	} else if (sympos > m->count) {
		pr_err("symbol %s,%lu not found in %s: only %u instance(s)\n",
		       name, sympos, objname, m->count);
		ret = -ENOENT;
	} else {
		struct kp_sym *sym;

		sort(m->syms, m->count, sizeof(m->syms[0]), kp_cmp_sym, NULL);
		sym = &m->syms[sympos ? sympos - 1 : 0];
		*addr = sym->addr;
		if (elf_size)
			*elf_size = sym->size;
	}
	kfree(m);
	return ret;
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

/* Caller holds the module mutex (kp_module_lock). */
struct module *kp_find_module(const char *name)
{
	return kp_find_module_fn(name);
}

/* 1 and the address when @mod's symbol table defines @name once. */
int kp_module_has_symbol(struct module *mod, const char *name,
			 unsigned long *addr)
{
	struct kp_match *m;
	int ret = 0;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return 0;
	m->name = name;
	kp_module_symbols(mod, m);
	if (m->count == 1) {
		*addr = m->syms[0].addr;
		ret = 1;
	}
	kfree(m);
	return ret;
}

/* The GNU build ID of the running vmlinux as lowercase hex. */
int kp_vmlinux_build_id(char *hex, size_t len)
{
	const char *p = kp_notes_start;

	while (p + sizeof(Elf64_Nhdr) <= kp_notes_end) {
		const Elf64_Nhdr *n = (const Elf64_Nhdr *)p;
		const char *name = p + sizeof(*n);
		const u8 *desc = (const u8 *)name + ALIGN(n->n_namesz, 4);
		const char *next = (const char *)desc + ALIGN(n->n_descsz, 4);

		if (next > kp_notes_end)
			break;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
		    !memcmp(name, "GNU", 4)) {
			if (len < 2 * n->n_descsz + 1)
				return -ENOSPC;
			bin2hex(hex, desc, n->n_descsz);
			hex[2 * n->n_descsz] = '\0';
			return 0;
		}
		p = next;
	}
	pr_err("no GNU build ID note in the running kernel\n");
	return -ENOENT;
}

int kp_stack_reliable(struct task_struct *tsk, unsigned long *store,
		      unsigned int size)
{
	return kp_stack_trace_save_tsk_reliable(tsk, store, size);
}

struct callback_head *kp_task_work_cancel(struct task_struct *task,
					  bool (*match)(struct callback_head *, void *),
					  void *data)
{
	return kp_task_work_cancel_fn(task, match, data);
}

/*
 * Make a task that sleeps interruptibly leave its sleep: a kthread is woken
 * (its wait loop re-checks and sleeps again, possibly elsewhere); a user task
 * gets a fake signal (TIF_NOTIFY_SIGNAL, as set_notify_signal() does): its
 * system call returns to user space and restarts, running its task works on
 * the way.  What livepatch does in klp_send_signals().
 */
void kp_kick_task(struct task_struct *task)
{
	if (task->flags & PF_KTHREAD)
		kp_wake_up_state_fn(task, TASK_INTERRUPTIBLE);
	else if (!test_and_set_tsk_thread_flag(task, TIF_NOTIFY_SIGNAL) &&
		 !kp_wake_up_state_fn(task, TASK_INTERRUPTIBLE))
		kick_process(task);
}

struct task_struct *kp_idle_task(int cpu)
{
	return kp_idle_task_fn(cpu);
}

unsigned long kp_ftrace_location(unsigned long addr)
{
	return kp_ftrace_location_fn(addr);
}

void *kp_text_poke(void *addr, const void *opcode, size_t len)
{
	void *ret;

	mutex_lock(kp_text_mutex);
	ret = kp_text_poke_fn(addr, opcode, len);
	mutex_unlock(kp_text_mutex);
	return ret;
}
