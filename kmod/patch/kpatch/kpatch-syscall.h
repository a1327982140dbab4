/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpatch-syscall.h - kp's own header of the name kpatch patches include to
 * change a system call (written from kpatch's documented behaviour).
 *
 * kpatch needs KPATCH_SYSCALL_DEFINEn because the body of a system call is
 * the inline __do_sys_<name>(), which the kernel builds notrace: kpatch
 * renames it so that it becomes a new function and the traced stub that
 * calls it (__x64_sys_<name>) is the one replaced.  kp's diffgen does that
 * by itself: a changed function without an ftrace entry is carried as a new
 * copy and its callers in the object are replaced.  So here the macros are
 * the kernel's SYSCALL_DEFINEn, and a patch may use either.
 */
#ifndef __KPATCH_SYSCALL_H_
#define __KPATCH_SYSCALL_H_

#include <linux/syscalls.h>
#include "kpatch-macros.h"

#define KPATCH_SYSCALL_DEFINE0(name)	SYSCALL_DEFINE0(name)
#define KPATCH_SYSCALL_DEFINE1(name, ...) SYSCALL_DEFINE1(name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE2(name, ...) SYSCALL_DEFINE2(name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE3(name, ...) SYSCALL_DEFINE3(name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE4(name, ...) SYSCALL_DEFINE4(name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE5(name, ...) SYSCALL_DEFINE5(name, __VA_ARGS__)
#define KPATCH_SYSCALL_DEFINE6(name, ...) SYSCALL_DEFINE6(name, __VA_ARGS__)

#endif /* __KPATCH_SYSCALL_H_ */
