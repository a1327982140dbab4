/* SPDX-License-Identifier: GPL-2.0 */
/* kp_test_mix.ko's exports, for the hand-written patch mix.c. */
#ifndef KP_TEST_MIX_H
#define KP_TEST_MIX_H

void kp_mix_sleep(void);
int kp_mix_b(void);

#endif /* KP_TEST_MIX_H */
