/* SPDX-License-Identifier: GPL-2.0 */
/* kp_test_nmi.ko's exports, for the hand-written patch nmi.c. */
#ifndef KP_TEST_NMI_H
#define KP_TEST_NMI_H

void kp_nmi_sleep(void);

#endif /* KP_TEST_NMI_H */
