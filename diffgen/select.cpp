#include "select.h"

#include "entry_sizes.h"
#include "errors.h"
#include "kp/abi.h"
#include "names.h"

namespace kp::diffgen {

namespace {

// sympos of the target symbol @name of @obj stands for; nullopt when the target lacks it.
std::optional<uint64_t> target_sympos(const ksym::SymbolTable &t, const std::string &name,
                                      bool local, const elf::Object &obj)
{
	const ksym::KernelSymbol *k = t.counterpart(name, local, obj);
	if (!k)
		return std::nullopt;
	return t.sympos(*k);
}

} // namespace

Selector::Selector(const elf::Object &orig, const elf::Object &patched, const Correlation &corr,
                   const Comparison &cmp, const ksym::SymbolTable *target, const Options &opts)
    : orig_(orig), patched_(patched), corr_(corr), cmp_(cmp), target_(target), opts_(opts)
{
	for (const auto &s : patched_.symbols())
		if (!s->is_undefined() && !s->is_local() && !s->name.empty())
			own_globals_.insert(s->name);
}

void Selector::include_item(const elf::Symbol *item)
{
	if (sel_.item_set.insert(item).second) {
		sel_.items.push_back(item);
		todo_items_.push_back(item);
	}
}

void Selector::include_piece(const elf::Section *sec)
{
	if (sel_.piece_set.insert(sec).second) {
		sel_.pieces.push_back(sec);
		todo_pieces_.push_back(sec);
	}
}

size_t Selector::external(const std::string &name, bool local, const std::string &user)
{
	External e;
	e.name = name;
	e.local = local;
	e.out_name = name;
	if (target_) {
		auto pos = target_sympos(*target_, name, local, orig_);
		e.found = pos.has_value();
		e.sympos = pos.value_or(0);
		e.exported = !local && target_->exported(name);
		if (local && e.sympos)
			e.out_name = name + ".kp." + std::to_string(e.sympos);
		// Locals and non-exported symbols of the target need verifying by the core.
		e.record = e.found && (local || !e.exported);
		if (local && !e.found) {
			std::string why = target_->why_no_counterpart(name);
			sel_.refusals.push_back(
			        patched_.path() + ": " + user + " refers to the local symbol " +
			        name +
			        (why.empty() ? " which " + target_->path() + " does not have"
			                     : ": " + why));
		}
	} else {
		// Without the target's symbol table exports are unknown: record every reference
		// (vmlinux); a module target's globals may live anywhere, so leave them to the
		// loader.
		e.record = opts_.target == KP_OBJ_VMLINUX;
	}
	if (opts_.target != KP_OBJ_VMLINUX && (local || e.found)) {
		// Locals of the object are the module's; globals are when --symbols has them.
		e.via_kp_relocs = true;
		e.record = false;
	}
	if (opts_.anchor && target_ && opts_.target == KP_OBJ_VMLINUX && e.found && !e.exported &&
	    !sel_.external_index.count(e.out_name))
		anchor(e, user);
	auto [it, added] = sel_.external_index.emplace(e.out_name, sel_.externals.size());
	if (added)
		sel_.externals.push_back(std::move(e));
	auto &users = sel_.externals[it->second].users;
	if (users.empty() || users.back() != user)
		users.push_back(user);
	return it->second;
}

void Selector::anchor(External &e, const std::string &user) const
{
	const ksym::KernelSymbol *k = target_->counterpart(e.name, e.local, orig_);
	if (!k)
		throw Error(patched_.path() + ": internal: " + e.name + " found in " +
		            target_->path() + " but not again");
	if (k->absolute())
		throw Error(patched_.path() + ": " + user + " refers to " + e.name +
		            ", an absolute symbol of " + target_->path() +
		            "; it cannot be anchored to an exported symbol");
	auto a = target_->anchor_for(
	        *k, [this](std::string_view name) { return !own_globals_.count(name); });
	if (!a)
		throw Error(a.error().context(patched_.path()));
	e.anchor = a->name;
	e.anchor_delta = a->delta;
}

Ref Selector::use(const elf::Reloc &r, const elf::Section *from, const std::string &user)
{
	auto known = sel_.refs.find(&r);
	if (known != sel_.refs.end())
		return known->second;
	Ref ref = decide(r, from, user);
	sel_.refs.emplace(&r, ref);
	return ref;
}

Ref Selector::decide(const elf::Reloc &r, const elf::Section *from, const std::string &user)
{
	Target t = resolve(patched_, r, from->is_text());
	Ref ref;
	ref.addend = t.delta;
	if (t.item) {
		ref.kind = Ref::Item;
		ref.item = t.item;
		if (sel_.item_set.count(t.item))
			return ref;
		Status st = cmp_.of(t.item);
		const elf::Symbol *twin = corr_.twin(t.item);
		if (st != Status::Same || !twin || is_cold_part(t.item->name)) {
			include_item(t.item);
			return ref;
		}
		ref.kind = Ref::Extern;
		ref.item = nullptr;
		ref.external = external(twin->name, twin->is_local(), user);
		return ref;
	}
	if (t.sec) {
		ref.kind = Ref::Piece;
		ref.piece = t.sec;
		include_piece(t.sec);
		return ref;
	}
	if (t.sym->shndx != SHN_UNDEF)
		throw Error(ErrorKind::unsupported,
		            patched_.path() + ": " + user + " refers to " +
		                    (t.sym->name.empty() ? std::string("an unnamed symbol")
		                                         : t.sym->name) +
		                    " which is absolute or common");
	ref.kind = Ref::Extern;
	ref.external = external(t.sym->name, false, user);
	return ref;
}

void Selector::include_special(std::vector<KeptEntries> special)
{
	for (const KeptEntries &k : special) {
		const elf::Section *sec = k.sec;
		for (uint64_t i : k.entries) {
			auto [b, e] = sec->relocs_in(i * k.entsize, (i + 1) * k.entsize);
			for (; b != e; ++b) {
				Ref ref = use(*b, sec, sec->name);
				if (ref.kind != Ref::Extern ||
				    !sel_.externals[ref.external].via_kp_relocs)
					continue;
				throw Error(
				        ErrorKind::unsupported,
				        patched_.path() + ": section " + sec->name + " entry " +
				                std::to_string(i) + " refers to " +
				                sel_.externals[ref.external].name +
				                ", a non-exported symbol of module " +
				                opts_.target +
				                ": it would need a kp_relocs record, which "
				                "special sections cannot use (the loader reads " +
				                sec->name +
				                " before kp can resolve it; livepatch has the same "
				                "limit). In the fix, test a static key with "
				                "static_key_enabled() instead of a static branch, "
				                "and keep the module's tracepoints out of the "
				                "changed functions");
			}
		}
	}
	sel_.special = std::move(special);
	close();
}

void Selector::close()
{
	while (!todo_items_.empty() || !todo_pieces_.empty()) {
		if (!todo_items_.empty()) {
			const elf::Symbol *item = todo_items_.front();
			todo_items_.pop_front();
			auto [b, e] = item->sec->relocs_in(item->value, item->value + item->size);
			for (; b != e; ++b)
				use(*b, item->sec, item->name);
			continue;
		}
		const elf::Section *sec = todo_pieces_.front();
		todo_pieces_.pop_front();
		for (const auto &r : sec->relocs)
			use(r, sec, sec->name);
	}
}

namespace {

struct Referrers {
	std::unordered_set<const elf::Symbol *> callers; // function items referring to it
	std::string other;                               // a non-code place referring to it, if any
};

// Who refers to each function item of @obj: functions, or (reported) anything else that
// would keep the old code reachable.  The function's own special-section entries, debug
// info and discarded annotations are not references.
std::unordered_map<const elf::Symbol *, Referrers> function_referrers(const elf::Object &obj)
{
	std::unordered_map<const elf::Symbol *, Referrers> refs;
	for (const auto &sec : obj.sections()) {
		if (sec->relocs.empty() || !(sec->flags() & SHF_ALLOC) || special_kind(sec->name) ||
		    sec->name.rfind(".discard", 0) == 0 ||
		    sec->name == "__patchable_function_entries")
			continue;
		for (const auto &r : sec->relocs) {
			Target t = resolve(obj, r, sec->is_text());
			if (!t.item || !t.item->is_func())
				continue;
			const elf::Symbol *from = obj.item_at(sec.get(), r.offset);
			if (sec->is_text() && from && from->is_func()) {
				if (from != t.item)
					refs[t.item].callers.insert(from);
			} else if (refs[t.item].other.empty()) {
				refs[t.item].other = from ? from->name : sec->name;
			}
		}
	}
	return refs;
}

// kpatch-macros.h markers: KPATCH_IGNORE_FUNCTION(fn) puts a pointer to fn in
// .discard.kp.ignore.functions, KPATCH_IGNORE_SECTION("name") the name in
// .discard.kp.ignore.sections; changes to those functions are not part of the patch.
std::unordered_set<const elf::Symbol *> ignored_functions(const elf::Object &obj)
{
	std::unordered_set<std::string> sections;
	std::unordered_set<const elf::Symbol *> out;
	for (const auto &sec : obj.sections()) {
		if (sec->name == ".discard.kp.ignore.functions")
			for (const auto &r : sec->relocs)
				if (const elf::Symbol *item = resolve(obj, r, false).item)
					out.insert(item);
		if (sec->name == ".discard.kp.ignore.sections") {
			std::string s(sec->data.begin(), sec->data.end());
			for (size_t b = 0, e; b < s.size(); b = e + 1) {
				e = s.find('\0', b);
				if (e == std::string::npos)
					e = s.size();
				if (e > b)
					sections.insert(s.substr(b, e - b));
			}
		}
	}
	for (const auto &sym : obj.symbols())
		if (sym->sec && sym->is_func() && sections.count(sym->sec->name))
			out.insert(sym.get());
	return out;
}

} // namespace

void Selector::run()
{
	// Changed functions without an ftrace entry (notrace, or out-of-line `inline`, which
	// the kernel makes notrace) cannot be redirected themselves.  When only functions of
	// this object call them, their callers are replaced instead, calling the new copy.
	std::unordered_set<const elf::Symbol *> ignored = ignored_functions(patched_);
	std::deque<const elf::Symbol *> work;
	for (const elf::Symbol *p : cmp_.changed_funcs)
		if (!ignored.count(p))
			work.push_back(p);
	std::unordered_set<const elf::Symbol *> seen(work.begin(), work.end());
	std::unordered_map<const elf::Symbol *, Referrers> referrers;
	bool have_referrers = false;
	while (!work.empty()) {
		const elf::Symbol *p = work.front();
		work.pop_front();
		const elf::Symbol *o = corr_.twin(p);
		if (!o)
			throw Error(patched_.path() + ": internal: changed function " + p->name +
			            " has no original");
		if (!has_ftrace_entry(orig_, o) || !has_ftrace_entry(patched_, p)) {
			if (!have_referrers) {
				referrers = function_referrers(patched_);
				have_referrers = true;
			}
			const Referrers &r = referrers[p];
			std::string why;
			if (!p->is_local() || !o->is_local())
				why = "it is global, so code outside this object may call it";
			else if (!r.other.empty())
				why = "its address is taken in " + r.other;
			else if (r.callers.empty())
				why = "nothing in this object calls it";
			if (!why.empty()) {
				sel_.refusals.push_back(patched_.path() + ": changed function " +
				                        p->name +
				                        " has no ftrace entry (no call __fentry__ "
				                        "at its start / no "
				                        "__mcount_loc record) and cannot be "
				                        "replaced through its callers: " +
				                        why);
				continue;
			}
			// Carried as a new copy; its callers are replaced.
			include_item(p);
			for (const elf::Symbol *caller : r.callers) {
				if (seen.insert(caller).second) {
					if (!corr_.twin(caller)) {
						include_item(
						        caller); // a new function: included anyway
						continue;
					}
					work.push_back(caller);
				}
			}
			continue;
		}
		uint64_t sympos = 0;
		if (target_) {
			auto pos = target_sympos(*target_, o->name, o->is_local(), orig_);
			if (!pos) {
				std::string why = target_->why_no_counterpart(o->name);
				sel_.refusals.push_back(
				        patched_.path() + ": changed function " + o->name +
				        (why.empty() ? " not found in " + target_->path() +
				                               " (inlined everywhere or renamed?)"
				                     : ": " + why));
				continue;
			}
			sympos = *pos;
		}
		sel_.funcs.push_back({o, p, sympos});
		include_item(p);
	}
	for (const elf::Symbol *p : cmp_.new_funcs)
		if (!ignored.count(p))
			include_item(p);
	// Callback records (kp_patch.h, kpatch-macros.h) are carried whole, with the
	// functions they name; write.cpp fills in the object of those without one.
	// Policy records (KPATCH_ROLLBACK_ON) are plain data, carried whole too.
	for (const auto &sec : patched_.sections())
		if ((sec->name == KP_SEC_CALLBACKS || sec->name == KP_SEC_POLICY) &&
		    (sec->flags() & SHF_ALLOC))
			include_piece(sec.get());
	select_values();
	close();
}

// KP_TRANSFER_VALUE variables: found in the target as functions are (object, name,
// sympos), so the core writes the live variable.
void Selector::select_values()
{
	for (const ValueTransfer &v : cmp_.values) {
		uint64_t sympos = 0;
		if (target_) {
			auto pos = target_sympos(*target_, v.orig->name, v.orig->is_local(), orig_);
			if (!pos) {
				sel_.refusals.push_back(
				        patched_.path() + ": KP_TRANSFER_VALUE(" + v.orig->name +
				        "): the variable is not in " + target_->path());
				continue;
			}
			sympos = *pos;
		}
		sel_.values.push_back({&v, sympos});
	}
}

} // namespace kp::diffgen
