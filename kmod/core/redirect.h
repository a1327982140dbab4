/* SPDX-License-Identifier: GPL-2.0 */
/*
 * redirect.h - the ftrace handlers and the stack of versions of each old
 * function (redirect.c; livepatch's patch.h).
 */
#ifndef KP_REDIRECT_H
#define KP_REDIRECT_H

#include "core.h"
#include "pending.h"

int kp_attach_func(struct kp_func *func);
void kp_detach_func(struct kp_func *func);
void kp_push_version(struct kp_func *func);
void kp_pop_version(struct kp_func *func);
struct kp_func *kp_top_version(struct kp_func *func);
struct kp_func *kp_next_version(struct kp_func *func);
void kp_redirect_cleanup(void);
struct kp_pending *kp_pending_install(struct kp_pending *p);
struct kp_pending *kp_pending_installed(void);

#endif /* KP_REDIRECT_H */
