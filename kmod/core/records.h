/* SPDX-License-Identifier: GPL-2.0 */
/*
 * records.h - where a patch module's records may point (records.c).
 */
#ifndef KP_RECORDS_H
#define KP_RECORDS_H

#include <linux/module.h>
#include <kp/abi.h>

bool kp_in_core_text(struct module *mod, unsigned long addr);
int kp_records_check(struct module *mod, const struct kp_patch_rec *rec);

#endif /* KP_RECORDS_H */
