// include/kp/abi.h for userspace code that also includes system headers pulling in
// <linux/types.h> (sys/stat.h does): abi.h's own userspace typedefs of __u64/__s64
// conflict with those, so take the kernel-header branch, which uses <linux/types.h>.
#pragma once
#include <linux/types.h>
#ifndef __KERNEL__
#define __KERNEL__
#define KPB_UNDEF_KERNEL
#endif
#include <kp/abi.h>
#ifdef KPB_UNDEF_KERNEL
#undef __KERNEL__
#undef KPB_UNDEF_KERNEL
#endif
