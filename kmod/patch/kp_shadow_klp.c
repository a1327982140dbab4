// SPDX-License-Identifier: GPL-2.0
/*
 * kp_shadow_klp.c - linked into every kp patch module: the kernel's
 * klp_shadow_* names, as functions of this module that call kp's shadow
 * variables (kp_shadow.h) on behalf of this module.
 *
 * A patch's references to klp_shadow_* (hand-written, or in code kp-build
 * rebuilt from kpatch-style sources) bind to these definitions when the
 * module is linked, never to the kernel's exports (the module loader only
 * resolves undefined symbols), so every kernel, CONFIG_LIVEPATCH or not,
 * runs kp's implementation, and kp knows which patch uses which id.
 */

#include <linux/module.h>
#include "kp_shadow.h"

#if IS_ENABLED(CONFIG_LIVEPATCH)
#include <linux/livepatch.h>	/* the prototypes must be the kernel's */
#endif

void *klp_shadow_get(void *obj, unsigned long id)
{
	return kp_shadow_get(obj, id);
}

void *klp_shadow_alloc(void *obj, unsigned long id, size_t size,
		       gfp_t gfp_flags, klp_shadow_ctor_t ctor, void *ctor_data)
{
	return kp_shadow_alloc(obj, id, size, gfp_flags, ctor, ctor_data);
}

void *klp_shadow_get_or_alloc(void *obj, unsigned long id, size_t size,
			      gfp_t gfp_flags, klp_shadow_ctor_t ctor,
			      void *ctor_data)
{
	return kp_shadow_get_or_alloc(obj, id, size, gfp_flags, ctor,
				      ctor_data);
}

void klp_shadow_free(void *obj, unsigned long id, klp_shadow_dtor_t dtor)
{
	kp_shadow_free(obj, id, dtor);
}

void klp_shadow_free_all(unsigned long id, klp_shadow_dtor_t dtor)
{
	kp_shadow_free_all(id, dtor);
}
