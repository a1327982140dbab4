/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module.h - the module notifiers (module.c).
 */
#ifndef KP_MODULE_H
#define KP_MODULE_H

#include <linux/module.h>

bool kp_module_alive(struct module *mod);
int kp_module_init(void);
void kp_module_exit(void);

#endif /* KP_MODULE_H */
