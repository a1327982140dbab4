// SPDX-License-Identifier: GPL-2.0
/*
 * shadow.c - shadow variables: data attached to an existing object, keyed by
 * <object pointer, id> (livepatch: kernel/livepatch/shadow.c).  Readers look
 * them up under RCU; writers take kp_shadow_lock with interrupts off, so
 * every function is usable where the kernel's klp_shadow_* are.  As
 * klp_shadow_get(), __kp_shadow_get() never takes kp_shadow_lock and never
 * allocates: it runs in any context, NMI included, and inside a constructor
 * (which runs under the lock) or a destructor.  A free unhashes its
 * variables under the lock and runs their destructors after, outside it,
 * with interrupts as the caller had them (issue 25): freeing every variable
 * of an id no longer keeps interrupts off for all the destructors of the
 * table.  livepatch's klp_shadow_free_all() runs each under klp_shadow_lock.
 *
 * Where kp differs: it knows who uses an id.  Each patch module that calls
 * the API with an id, or declares it (kp_shadows records), is a user of the
 * id until it is removed; when the last user goes, the variables of the id
 * still there are freed (with the dtor that user declared), so a patch that
 * forgets to free its shadow data on unpatch leaks nothing.  Allocating,
 * freeing and declaring make a module a user (a kp_shadow_user, allocated,
 * under the lock).  A get cannot: it records the id in a table its patch
 * module got at registration (struct kp_shadow_mod: KP_SHADOW_GOT_MAX slots
 * claimed with a cmpxchg), which keeps the id's variables alive as a user
 * does.  A module that gets more ids than that without allocating or
 * declaring them is told so once (declare them: KP_SHADOW_ID).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hashtable.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include "kp_shadow.h"
#include "shadow.h"

struct kp_shadow {
	struct hlist_node node;
	struct rcu_head rcu_head;
	struct kp_shadow *next_free;	/* unhashed, its dtor not run yet */
	kp_shadow_dtor_t dtor;
	void *obj;
	unsigned long id;
	char data[];
};

/* A module using an id; @declared: from a kp_shadows record (with @dtor). */
struct kp_shadow_user {
	struct list_head node;
	struct rcu_head rcu_head;
	struct module *mod;
	unsigned long id;
	kp_shadow_dtor_t dtor;
	bool declared;
};

#define KP_SHADOW_GOT_MAX	32

/* A patch module, and the ids it only got (recorded lock-free). */
struct kp_shadow_mod {
	struct list_head node;
	struct rcu_head rcu_head;
	struct module *mod;
	atomic_t nr_got;			/* slots claimed */
	DECLARE_BITMAP(got_set, KP_SHADOW_GOT_MAX); /* slot's id written */
	unsigned long got[KP_SHADOW_GOT_MAX];
};

static DEFINE_HASHTABLE(kp_shadow_hash, 12);
static LIST_HEAD(kp_shadow_users);
static LIST_HEAD(kp_shadow_mods);
static DEFINE_SPINLOCK(kp_shadow_lock);

static struct kp_shadow_user *kp_find_user(struct module *mod,
					   unsigned long id)
{
	struct kp_shadow_user *u;

	list_for_each_entry_rcu(u, &kp_shadow_users, node,
				lockdep_is_held(&kp_shadow_lock))
		if (u->mod == mod && u->id == id)
			return u;
	return NULL;
}

/* Under RCU or kp_shadow_lock. */
static struct kp_shadow_mod *kp_find_mod(struct module *mod)
{
	struct kp_shadow_mod *m;

	list_for_each_entry_rcu(m, &kp_shadow_mods, node,
				lockdep_is_held(&kp_shadow_lock))
		if (m->mod == mod)
			return m;
	return NULL;
}

/* Did @m get @id?  Any context. */
static bool kp_mod_got(struct kp_shadow_mod *m, unsigned long id)
{
	unsigned int i, nr = min(atomic_read(&m->nr_got), KP_SHADOW_GOT_MAX);

	for (i = 0; i < nr; i++) {
		if (!test_bit(i, m->got_set))
			continue;
		smp_rmb();	/* the id before its bit: kp_shadow_got() */
		if (READ_ONCE(m->got[i]) == id)
			return true;
	}
	return false;
}

/*
 * @mod got @id (RCU held): record it without a lock or an allocation.  A
 * racing second record of the same id costs one slot, nothing else.
 */
static void kp_shadow_got(struct module *mod, unsigned long id)
{
	struct kp_shadow_mod *m = kp_find_mod(mod);
	int nr;

	if (!m || kp_find_user(mod, id) || kp_mod_got(m, id))
		return;
	do {
		nr = atomic_read(&m->nr_got);
		if (nr >= KP_SHADOW_GOT_MAX) {
			pr_warn_once("%s: gets more than %d shadow variable ids it neither allocates nor declares: declare them (KP_SHADOW_ID) to keep their variables alive\n",
				     mod->name, KP_SHADOW_GOT_MAX);
			return;
		}
	} while (atomic_cmpxchg(&m->nr_got, nr, nr + 1) != nr);
	WRITE_ONCE(m->got[nr], id);
	smp_mb__before_atomic();	/* the id before its bit: kp_mod_got() */
	set_bit(nr, m->got_set);
}

/*
 * Make @mod a user of @id.  Allocates with @gfp when it is not one yet; never
 * called from __kp_shadow_get(), so it may take kp_shadow_lock.
 */
static void kp_shadow_use(struct module *mod, unsigned long id, gfp_t gfp)
{
	struct kp_shadow_user *u, *found;
	unsigned long flags;

	rcu_read_lock();
	found = kp_find_user(mod, id);
	rcu_read_unlock();
	if (found)
		return;
	u = kmalloc(sizeof(*u), gfp | __GFP_NOWARN);
	if (!u)
		return;
	u->mod = mod;
	u->id = id;
	u->dtor = NULL;
	u->declared = false;
	spin_lock_irqsave(&kp_shadow_lock, flags);
	if (kp_find_user(mod, id)) {
		spin_unlock_irqrestore(&kp_shadow_lock, flags);
		kfree(u);
		return;
	}
	list_add_rcu(&u->node, &kp_shadow_users);
	spin_unlock_irqrestore(&kp_shadow_lock, flags);
}

static struct kp_shadow *kp_shadow_find(void *obj, unsigned long id)
{
	struct kp_shadow *s;

	hash_for_each_possible_rcu(kp_shadow_hash, s, node,
				   (unsigned long)obj)
		if (s->obj == obj && s->id == id)
			return s;
	return NULL;
}

/* Lock-free and allocation-free, as klp_shadow_get(): any context. */
void *__kp_shadow_get(struct module *self, void *obj, unsigned long id)
{
	struct kp_shadow *s;
	void *data = NULL;

	rcu_read_lock();
	kp_shadow_got(self, id);
	s = kp_shadow_find(obj, id);
	if (s)
		data = s->data;
	rcu_read_unlock();
	return data;
}
EXPORT_SYMBOL_GPL(__kp_shadow_get);

static void *kp_shadow_create(struct module *self, void *obj,
			      unsigned long id, size_t size, gfp_t gfp,
			      kp_shadow_ctor_t ctor, void *ctor_data,
			      bool warn_on_exist)
{
	struct kp_shadow *new, *s;
	unsigned long flags;
	void *data;

	kp_shadow_use(self, id, gfp);
	data = __kp_shadow_get(self, obj, id);
	if (data)
		goto exists;

	/* Allocated outside the lock, as the caller's @gfp may sleep. */
	new = kzalloc(struct_size(new, data, size), gfp);
	if (!new)
		return NULL;

	spin_lock_irqsave(&kp_shadow_lock, flags);
	s = kp_shadow_find(obj, id);
	if (s) {
		spin_unlock_irqrestore(&kp_shadow_lock, flags);
		kfree(new);
		data = s->data;
		goto exists;
	}
	new->obj = obj;
	new->id = id;
	if (ctor) {
		int err = ctor(obj, new->data, ctor_data);

		if (err) {
			spin_unlock_irqrestore(&kp_shadow_lock, flags);
			kfree(new);
			pr_err("shadow variable <%p, %lx> constructor failed: %d\n",
			       obj, id, err);
			return NULL;
		}
	}
	hash_add_rcu(kp_shadow_hash, &new->node, (unsigned long)obj);
	spin_unlock_irqrestore(&kp_shadow_lock, flags);
	return new->data;

exists:
	if (warn_on_exist) {
		WARN(1, "kp: shadow variable <%p, %lx> already exists\n", obj, id);
		return NULL;
	}
	return data;
}

void *__kp_shadow_alloc(struct module *self, void *obj, unsigned long id,
			size_t size, gfp_t gfp_flags, kp_shadow_ctor_t ctor,
			void *ctor_data)
{
	return kp_shadow_create(self, obj, id, size, gfp_flags, ctor,
				ctor_data, true);
}
EXPORT_SYMBOL_GPL(__kp_shadow_alloc);

void *__kp_shadow_get_or_alloc(struct module *self, void *obj,
			       unsigned long id, size_t size, gfp_t gfp_flags,
			       kp_shadow_ctor_t ctor, void *ctor_data)
{
	return kp_shadow_create(self, obj, id, size, gfp_flags, ctor,
				ctor_data, false);
}
EXPORT_SYMBOL_GPL(__kp_shadow_get_or_alloc);

/*
 * Unhash @s onto @list, its destructor @dtor to run once the lock is
 * dropped (kp_shadow_lock held).  Readers may still see it until the grace
 * period after kp_shadow_free_list().
 */
static void kp_shadow_drop(struct kp_shadow *s, kp_shadow_dtor_t dtor,
			   struct kp_shadow **list)
{
	hash_del_rcu(&s->node);
	s->dtor = dtor;
	s->next_free = *list;
	*list = s;
}

/* Outside kp_shadow_lock: run the destructors of @list, free it after RCU. */
static void kp_shadow_free_list(struct kp_shadow *list)
{
	struct kp_shadow *s;

	while ((s = list)) {
		list = s->next_free;
		if (s->dtor)
			s->dtor(s->obj, s->data);
		kfree_rcu(s, rcu_head);
	}
}

void __kp_shadow_free(struct module *self, void *obj, unsigned long id,
		      kp_shadow_dtor_t dtor)
{
	struct kp_shadow *s, *list = NULL;
	unsigned long flags;

	kp_shadow_use(self, id, GFP_ATOMIC);
	spin_lock_irqsave(&kp_shadow_lock, flags);
	s = kp_shadow_find(obj, id);
	if (s)
		kp_shadow_drop(s, dtor, &list);
	spin_unlock_irqrestore(&kp_shadow_lock, flags);
	kp_shadow_free_list(list);
}
EXPORT_SYMBOL_GPL(__kp_shadow_free);

/* Unhash every variable of @id onto @list (lock held); returns how many. */
static unsigned int kp_shadow_drop_id(unsigned long id, kp_shadow_dtor_t dtor,
				      struct kp_shadow **list)
{
	struct hlist_node *tmp;
	struct kp_shadow *s;
	unsigned int bkt, n = 0;

	hash_for_each_safe(kp_shadow_hash, bkt, tmp, s, node) {
		if (s->id == id) {
			kp_shadow_drop(s, dtor, list);
			n++;
		}
	}
	return n;
}

void __kp_shadow_free_all(struct module *self, unsigned long id,
			  kp_shadow_dtor_t dtor)
{
	struct kp_shadow *list = NULL;
	unsigned long flags;

	kp_shadow_use(self, id, GFP_ATOMIC);
	spin_lock_irqsave(&kp_shadow_lock, flags);
	kp_shadow_drop_id(id, dtor, &list);
	spin_unlock_irqrestore(&kp_shadow_lock, flags);
	kp_shadow_free_list(list);
}
EXPORT_SYMBOL_GPL(__kp_shadow_free_all);

/* @mod (a patch module being registered) declares the ids of its records. */
int kp_shadow_declare(struct module *mod, const struct kp_shadow_rec *first,
		      const struct kp_shadow_rec *last)
{
	const struct kp_shadow_rec *r;
	struct kp_shadow_user *u;
	struct kp_shadow_mod *m;
	unsigned long flags;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->mod = mod;
	spin_lock_irqsave(&kp_shadow_lock, flags);
	list_add_rcu(&m->node, &kp_shadow_mods);
	spin_unlock_irqrestore(&kp_shadow_lock, flags);
	for (r = first; r < last; r++) {
		kp_shadow_use(mod, r->id, GFP_KERNEL);
		spin_lock_irqsave(&kp_shadow_lock, flags);
		u = kp_find_user(mod, r->id);
		if (u) {
			u->declared = true;
			u->dtor = (kp_shadow_dtor_t)(unsigned long)r->dtor;
		}
		spin_unlock_irqrestore(&kp_shadow_lock, flags);
		if (!u)
			return -ENOMEM;
	}
	return 0;
}

/* Does a module use @id, or did one get it (kp_shadow_lock held)? */
static bool kp_id_has_user(unsigned long id)
{
	struct kp_shadow_user *u;
	struct kp_shadow_mod *m;

	list_for_each_entry(u, &kp_shadow_users, node)
		if (u->id == id)
			return true;
	list_for_each_entry(m, &kp_shadow_mods, node)
		if (kp_mod_got(m, id))
			return true;
	return false;
}

/* @id lost a user: unhash its variables if none is left (lock held). */
static void kp_shadow_orphan(unsigned long id, kp_shadow_dtor_t dtor,
			     const char *patch, struct kp_shadow **list)
{
	unsigned int n;

	if (kp_id_has_user(id))
		return;
	n = kp_shadow_drop_id(id, dtor, list);
	if (n)
		pr_info("%s: freed %u shadow variable(s) of id %lu left behind (no other patch uses the id)\n",
			patch, n, id);
}

/*
 * @mod (a patch module) goes: it is no longer a user of any id, and the
 * variables of each id it was the last user of are freed, with its dtor.
 * Called while the module's code is still there (its exit, or its init
 * failing), so the dtor can run.
 */
void kp_shadow_release(struct module *mod, const char *patch)
{
	struct kp_shadow_user *u, *tmp;
	struct kp_shadow *list = NULL;
	struct kp_shadow_mod *m;
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&kp_shadow_lock, flags);
	m = kp_find_mod(mod);
	if (m)
		list_del_rcu(&m->node);
	list_for_each_entry_safe(u, tmp, &kp_shadow_users, node) {
		if (u->mod != mod)
			continue;
		list_del_rcu(&u->node);
		kp_shadow_orphan(u->id, u->dtor, patch, &list);
		kfree_rcu(u, rcu_head);
	}
	for (i = 0; m && i < KP_SHADOW_GOT_MAX; i++)
		if (test_bit(i, m->got_set))
			kp_shadow_orphan(m->got[i], NULL, patch, &list);
	spin_unlock_irqrestore(&kp_shadow_lock, flags);
	kp_shadow_free_list(list);	/* the module's code is still there */
	if (m)
		kfree_rcu(m, rcu_head);
}

/*
 * Call @fn on each shadow variable id @mod uses, and whether it declared it,
 * until it returns false.
 */
void kp_shadow_walk_ids(struct module *mod, kp_shadow_id_fn fn, void *data)
{
	struct kp_shadow_user *u;
	struct kp_shadow_mod *m;
	unsigned int i;

	rcu_read_lock();
	list_for_each_entry_rcu(u, &kp_shadow_users, node) {
		if (u->mod == mod && !fn(u->id, u->declared, data))
			goto out;
	}
	m = kp_find_mod(mod);
	for (i = 0; m && i < KP_SHADOW_GOT_MAX; i++) {
		if (!test_bit(i, m->got_set) ||
		    kp_find_user(mod, READ_ONCE(m->got[i])))
			continue;
		if (!fn(READ_ONCE(m->got[i]), false, data))
			break;
	}
out:
	rcu_read_unlock();
}

/*
 * The ids that have live shadow variables, and how many each, as many as
 * @max; returns how many ids it filled in.
 */
unsigned int kp_shadow_count(unsigned long *ids, unsigned long *counts,
			     unsigned int max)
{
	unsigned int bkt, i, nr = 0;
	struct kp_shadow *s;
	unsigned long flags;

	spin_lock_irqsave(&kp_shadow_lock, flags);
	hash_for_each(kp_shadow_hash, bkt, s, node) {
		for (i = 0; i < nr && ids[i] != s->id; i++)
			;
		if (i == nr) {
			if (nr == max)
				continue;
			ids[nr] = s->id;
			counts[nr++] = 0;
		}
		counts[i]++;
	}
	spin_unlock_irqrestore(&kp_shadow_lock, flags);
	return nr;
}

/* kp_core goes: no patch module is left; drop what other modules left. */
void kp_shadow_exit(void)
{
	struct kp_shadow_mod *m, *mtmp;
	struct kp_shadow_user *u, *tmp;
	struct hlist_node *htmp;
	struct kp_shadow *s;
	unsigned int bkt;

	hash_for_each_safe(kp_shadow_hash, bkt, htmp, s, node) {
		hash_del(&s->node);
		kfree(s);
	}
	list_for_each_entry_safe(u, tmp, &kp_shadow_users, node) {
		list_del(&u->node);
		kfree(u);
	}
	list_for_each_entry_safe(m, mtmp, &kp_shadow_mods, node) {
		list_del(&m->node);
		kfree(m);
	}
	rcu_barrier();
}
