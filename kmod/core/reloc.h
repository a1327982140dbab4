/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reloc.h - kp_syms verification and kp_relocs application (reloc.c).
 */
#ifndef KP_RELOC_H
#define KP_RELOC_H

#include "core.h"

bool kp_patch_has_object(struct kp_patch *patch, const char *objname);
int kp_check_records(struct kp_patch *patch);
int kp_verify_syms(struct kp_patch *patch, struct kp_object *obj);
int kp_apply_relocs(struct kp_patch *patch, struct kp_object *obj);

#endif /* KP_RELOC_H */
