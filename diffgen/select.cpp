#include "select.h"

#include "errors.h"
#include "kp/abi.h"
#include "names.h"

namespace kp::diffgen {

Selector::Selector(const elf::Object &orig, const elf::Object &patched, const Correlation &corr,
		   const Comparison &cmp, const TargetSymbols *target, const Options &opts)
	: orig_(orig), patched_(patched), corr_(corr), cmp_(cmp), target_(target), opts_(opts)
{
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
		auto pos = target_->sympos(name, local, orig_);
		e.found = pos.has_value();
		e.sympos = pos.value_or(0);
		e.exported = !local && target_->exported(name);
		if (local && e.sympos)
			e.out_name = name + ".kp." + std::to_string(e.sympos);
		// Locals and non-exported symbols of the target need verifying by the core.
		e.record = e.found && (local || !e.exported);
		if (local && !e.found)
			sel_.refusals.push_back(patched_.path() + ": " + user + " refers to the local symbol " + name +
						" which " + target_->path() + " does not have");
	} else {
		// Without the target's symbol table exports are unknown: record every reference
		// (vmlinux); a module target's globals may live anywhere, so leave them to the loader.
		e.record = opts_.target == KP_OBJ_VMLINUX;
	}
	if (opts_.target != KP_OBJ_VMLINUX && (local || e.found)) {
		// Locals of the object are the module's; globals are when --symbols has them.
		e.via_kp_relocs = true;
		e.record = false;
	}
	auto [it, added] = sel_.external_index.emplace(e.out_name, sel_.externals.size());
	if (added)
		sel_.externals.push_back(std::move(e));
	auto &users = sel_.externals[it->second].users;
	if (users.empty() || users.back() != user)
		users.push_back(user);
	return it->second;
}

Ref Selector::use(const elf::Reloc &r, const elf::Section *from, const std::string &user)
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
		throw Unsupported(patched_.path() + ": " + user + " refers to " +
				  (t.sym->name.empty() ? std::string("an unnamed symbol") : t.sym->name) +
				  " which is absolute or common");
	ref.kind = Ref::Extern;
	ref.external = external(t.sym->name, false, user);
	return ref;
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

void Selector::run()
{
	for (const elf::Symbol *p : cmp_.changed_funcs) {
		const elf::Symbol *o = corr_.twin(p);
		if (!o)
			throw Error(patched_.path() + ": internal: changed function " + p->name + " has no original");
		if (!has_ftrace_entry(orig_, o) || !has_ftrace_entry(patched_, p)) {
			sel_.refusals.push_back(patched_.path() + ": changed function " + p->name +
						" has no ftrace entry (no call __fentry__ at its start / no __mcount_loc "
						"record): notrace functions cannot be redirected");
			continue;
		}
		uint64_t sympos = 0;
		if (target_) {
			auto pos = target_->sympos(o->name, o->is_local(), orig_);
			if (!pos) {
				sel_.refusals.push_back(patched_.path() + ": changed function " + o->name + " not found in " +
							target_->path() + " (inlined everywhere or renamed?)");
				continue;
			}
			sympos = *pos;
		}
		sel_.funcs.push_back({o, p, sympos});
		include_item(p);
	}
	for (const elf::Symbol *p : cmp_.new_funcs)
		include_item(p);
	close();
}

}  // namespace kp::diffgen
