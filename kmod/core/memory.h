/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memory.h - the patches that were rolled back, by the build ID of their
 * module, and the refusal of a module that was (memory.c); its sysfs file
 * is sysfs.c's.
 */
#ifndef KP_MEMORY_H
#define KP_MEMORY_H

#include <linux/types.h>

struct module;

/* Room for one "why" line: fault type, function+offset, task, time. */
#define KP_WHY_MAX	256

void kp_memory_exit(void);
int kp_memory_add(struct module *mod, const char *name, const char *why,
		  bool confirmed);
bool kp_memory_why(struct module *mod, char *why, size_t len, bool *confirmed);
int kp_memory_check(struct module *mod, const char *name);
/* Called on each remembered patch. */
typedef void (*kp_memory_fn)(const char *build_id, const char *name,
			     const char *why, bool confirmed, void *data);

void kp_memory_walk(kp_memory_fn fn, void *data);
int kp_memory_forget(const char *build_id);
int kp_memory_confirm(const char *build_id);

#endif /* KP_MEMORY_H */
