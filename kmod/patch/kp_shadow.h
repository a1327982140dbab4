/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kp_shadow.h - shadow variables for kp patch authors: new data attached to
 * an existing object (a task, an inode, ...) that the running kernel's
 * structures have no field for, keyed by <object pointer, id>.  Semantics
 * and contexts are those of the kernel's klp_shadow_*
 * (Documentation/livepatch/shadow-vars.rst):
 *
 *   kp_shadow_get(obj, id)          the data, or NULL; any context
 *   kp_shadow_alloc(obj, id, size, gfp, ctor, ctor_data)
 *                                   new zeroed data (after @ctor ran), or
 *                                   NULL (no memory, @ctor failed, or it
 *                                   exists already: a WARN); sleeps only if
 *                                   @gfp allows it
 *   kp_shadow_get_or_alloc(...)     the existing data, or new as above
 *   kp_shadow_free(obj, id, dtor)   frees one; @dtor (may be NULL) first
 *   kp_shadow_free_all(id, dtor)    frees every variable of @id
 *
 * @ctor runs under kp's shadow spinlock with interrupts off: it must not
 * sleep; so does @dtor.
 *
 * The kernel's klp_shadow_* names work too, in hand-written patches and in
 * patches kp-build makes from kpatch-style sources: every kp patch module
 * carries klp_shadow_* functions of its own (kp_shadow_klp.c) that call
 * these, so they use kp's implementation on every kernel, CONFIG_LIVEPATCH
 * or not (docs/patch-authors-guide.md says why).
 *
 * Lifetime: a patch module that used an id (or declared it with
 * KP_SHADOW_ID) is one of its users until the module is removed.  When the
 * last user of an id goes, kp frees the variables of that id still there,
 * calling the dtor the last user declared with KP_SHADOW_ID (else none), so
 * shadow data is never leaked.  A patch that takes over another's shadow
 * variables declares their id, so they survive the older patch's removal.
 * kp_shadow_get() takes no lock and allocates nothing (as klp_shadow_get()):
 * it may be called anywhere, in a constructor or destructor too; the ids a
 * patch only gets are recorded in a table of 32 per patch module, beyond
 * which they must be declared to keep their variables alive.
 */
#ifndef KP_SHADOW_H
#define KP_SHADOW_H

#include <linux/gfp.h>
#include <linux/module.h>
#include <kp/abi.h>

typedef int (*kp_shadow_ctor_t)(void *obj, void *shadow_data, void *ctor_data);
typedef void (*kp_shadow_dtor_t)(void *obj, void *shadow_data);

void *__kp_shadow_get(struct module *self, void *obj, unsigned long id);
void *__kp_shadow_alloc(struct module *self, void *obj, unsigned long id,
			size_t size, gfp_t gfp_flags, kp_shadow_ctor_t ctor,
			void *ctor_data);
void *__kp_shadow_get_or_alloc(struct module *self, void *obj,
			       unsigned long id, size_t size, gfp_t gfp_flags,
			       kp_shadow_ctor_t ctor, void *ctor_data);
void __kp_shadow_free(struct module *self, void *obj, unsigned long id,
		      kp_shadow_dtor_t dtor);
void __kp_shadow_free_all(struct module *self, unsigned long id,
			  kp_shadow_dtor_t dtor);

#define kp_shadow_get(obj, id) __kp_shadow_get(THIS_MODULE, obj, id)
#define kp_shadow_alloc(obj, id, size, gfp, ctor, data)			\
	__kp_shadow_alloc(THIS_MODULE, obj, id, size, gfp, ctor, data)
#define kp_shadow_get_or_alloc(obj, id, size, gfp, ctor, data)		\
	__kp_shadow_get_or_alloc(THIS_MODULE, obj, id, size, gfp, ctor, data)
#define kp_shadow_free(obj, id, dtor)					\
	__kp_shadow_free(THIS_MODULE, obj, id, dtor)
#define kp_shadow_free_all(id, dtor)					\
	__kp_shadow_free_all(THIS_MODULE, id, dtor)

/*
 * The patch uses shadow id @sid from its load on (a user before its code ran)
 * and @dtor (may be NULL) destroys the variables kp frees when the id's last
 * user goes.
 */
#define KP_SHADOW_ID(sid, dtorfn)						\
	static const struct kp_shadow_rec __used __aligned(8)		\
	__section("kp_shadows")						\
	__UNIQUE_ID(kp_shadow) = {					\
		.id = (sid),						\
		.dtor = (__u64)(unsigned long)(kp_shadow_dtor_t)(dtorfn), \
	}

/*
 * The kernel's names (kp_shadow_klp.c defines them in every patch module).
 * With CONFIG_LIVEPATCH, <linux/livepatch.h> declares them; without it, here.
 */
#if !IS_ENABLED(CONFIG_LIVEPATCH)
#define klp_shadow_ctor_t kp_shadow_ctor_t
#define klp_shadow_dtor_t kp_shadow_dtor_t
void *klp_shadow_get(void *obj, unsigned long id);
void *klp_shadow_alloc(void *obj, unsigned long id, size_t size,
		       gfp_t gfp_flags, klp_shadow_ctor_t ctor, void *ctor_data);
void *klp_shadow_get_or_alloc(void *obj, unsigned long id, size_t size,
			      gfp_t gfp_flags, klp_shadow_ctor_t ctor,
			      void *ctor_data);
void klp_shadow_free(void *obj, unsigned long id, klp_shadow_dtor_t dtor);
void klp_shadow_free_all(unsigned long id, klp_shadow_dtor_t dtor);
#endif

#endif /* KP_SHADOW_H */
