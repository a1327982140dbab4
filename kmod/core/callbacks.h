/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbacks.h - per-object pre/post patch/unpatch callbacks (callbacks.c).
 */
#ifndef KP_CALLBACKS_H
#define KP_CALLBACKS_H

#include "core.h"

unsigned int kp_callbacks_count(const struct kp_patch_rec *rec);
int kp_callbacks_init(struct kp_patch *patch);
int kp_object_pre_patch(struct kp_object *obj);
void kp_object_post_patch(struct kp_object *obj);
void kp_object_pre_unpatch(struct kp_object *obj);
void kp_object_post_unpatch(struct kp_object *obj);
int kp_pre_patch_callbacks(struct kp_patch *patch);
void kp_pre_unpatch_callbacks(struct kp_patch *patch);
void kp_post_callbacks(struct kp_patch *patch, bool enabled);
bool kp_in_callback(void);

#endif /* KP_CALLBACKS_H */
