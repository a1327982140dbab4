#include "write.h"

#include <cstring>
#include <unordered_map>

#include "elf/writer.h"
#include "errors.h"
#include "kp/abi.h"
#include "support/atomic_file.h"

namespace kp::diffgen {

namespace {

// The NOP padding the compiler put before @func (-fpatchable-function-entry=N,N, as
// CALL_PADDING builds every function): __patchable_function_entries records where it
// starts, in @func's own section, before @func and after any other item than its __pfx_
// symbol; 0 when none.
uint64_t padding_before(const elf::Object &obj, const elf::Symbol &func)
{
	const elf::Section *pfe = obj.section("__patchable_function_entries");
	if (!pfe)
		return 0;
	for (const auto &r : pfe->relocs) {
		if (r.sym->sec != func.sec)
			continue;
		int64_t at = r.addend +
		             static_cast<int64_t>(r.sym->type == STT_SECTION ? 0 : r.sym->value);
		if (at < 0 || static_cast<uint64_t>(at) >= func.value)
			continue;
		uint64_t pad = func.value - static_cast<uint64_t>(at);
		// objtool (already run on a single-file module's object) names it __pfx_<func>.
		const elf::Symbol *there = obj.item_at(func.sec, static_cast<uint64_t>(at));
		if (pad > 64 || (there && there->name != "__pfx_" + func.name))
			continue;
		bool nops = true;
		for (uint64_t i = static_cast<uint64_t>(at); i < func.value && nops; i++)
			nops = func.sec->data[i] == 0x90;
		if (nops)
			return pad;
	}
	return 0;
}

class Emitter {
public:
	Emitter(const Selection &sel, const std::vector<AddressTaken> &addrs,
	        const elf::Object &patched, const Options &opts)
	    : sel_(sel), patched_(patched), opts_(opts)
	{
		// The core re-checks, in the running kernel, the ENDBR the target had.
		for (const AddressTaken &a : addrs)
			if (a.endbr == ksym::SymbolTable::Endbr::present)
				addrs_.push_back(&a);
	}

	void emit_items()
	{
		const Selection &s = sel_;
		for (const elf::Symbol *item : s.items) {
			const elf::Section *sec = item->sec;
			// A function keeps the padding the compiler put before it (CALL_PADDING):
			// call-depth tracking writes its accounting there, objtool names it __pfx_.
			uint64_t pad = item->is_func() ? padding_before(patched_, *item) : 0;
			uint64_t start = item->value - pad;
			bool whole = start == 0 && pad + item->size == sec->size();
			std::string name = whole ? sec->name : sec->name + "." + item->name;
			std::vector<uint8_t> bytes;
			if (!sec->is_nobits())
				bytes.assign(sec->data.begin() + start,
				             sec->data.begin() + item->value + item->size);
			size_t idx = w_.add_section(
			        name, sec->shdr.sh_type, sec->flags() & ~uint64_t(SHF_GROUP),
			        sec->shdr.sh_addralign, sec->shdr.sh_entsize, std::move(bytes),
			        sec->is_nobits() ? item->size : 0);
			item_sec_[item] = idx;
			item_pad_[item] = pad;
			item_sym_[item] = w_.add_symbol(item->name, item->type, item->bind, idx,
			                                pad, item->size, item->other);
			for (const elf::Symbol *alias : item->aliases)
				w_.add_symbol(alias->name, alias->type, alias->bind, idx, pad,
				              alias->size, alias->other);
		}
		for (const elf::Section *sec : s.pieces) {
			size_t idx = w_.add_section(
			        sec->name, sec->shdr.sh_type, sec->flags() & ~uint64_t(SHF_GROUP),
			        sec->shdr.sh_addralign, sec->shdr.sh_entsize,
			        std::vector<uint8_t>(sec->data.begin(), sec->data.end()),
			        sec->is_nobits() ? sec->size() : 0);
			piece_sec_[sec] = idx;
		}
		for (const External &x : s.externals)
			ext_sym_.push_back(
			        x.via_kp_relocs
			                ? SIZE_MAX
			                : undefined(x.anchor.empty() ? x.out_name : x.anchor));
		// Relocations (after every target has its output symbol).
		for (const elf::Symbol *item : s.items) {
			auto [b, e] = item->sec->relocs_in(item->value, item->value + item->size);
			for (; b != e; ++b)
				reloc(item_sec_[item], b->offset - item->value + item_pad_[item],
				      *b, item->name);
		}
		for (const elf::Section *sec : s.pieces)
			for (const auto &r : sec->relocs)
				reloc(piece_sec_[sec], r.offset, r, sec->name);
	}

	void emit_special()
	{
		for (const KeptEntries &k : sel_.special) {
			const elf::Section *sec = k.sec;
			std::vector<uint8_t> bytes;
			bytes.reserve(k.entries.size() * k.entsize);
			for (uint64_t i : k.entries)
				bytes.insert(bytes.end(), sec->data.begin() + i * k.entsize,
				             sec->data.begin() + (i + 1) * k.entsize);
			size_t idx = w_.add_section(
			        sec->name, sec->shdr.sh_type, sec->flags() & ~uint64_t(SHF_GROUP),
			        sec->shdr.sh_addralign, sec->shdr.sh_entsize, std::move(bytes));
			// objtool reads its annotations only against section symbols.
			bool by_section = sec->name.rfind(".discard.", 0) == 0;
			uint64_t out = 0;
			for (uint64_t i : k.entries) {
				auto [b, e] = sec->relocs_in(i * k.entsize, (i + 1) * k.entsize);
				for (; b != e; ++b)
					reloc(idx, out + (b->offset - i * k.entsize), *b, sec->name,
					      by_section);
				out += k.entsize;
			}
		}
	}

	void emit_records()
	{
		const Selection &s = sel_;
		const std::string &objname = opts_.target;
		std::vector<const External *> recs;
		for (const External &x : s.externals)
			if (x.record)
				recs.push_back(&x);
		std::vector<const elf::Section *> callbacks;
		for (const elf::Section *sec : s.pieces)
			if (sec->name == KP_SEC_CALLBACKS)
				callbacks.push_back(sec);
		if (s.funcs.empty() && recs.empty() && kp_relocs_.empty() && callbacks.empty() &&
		    s.values.empty() && addrs_.empty())
			return;
		strings_ = w_.add_section(".rodata.kp", SHT_PROGBITS, SHF_ALLOC, 1, 0, {});
		strsym_ = w_.section_symbol(strings_);
		for (const elf::Section *sec : callbacks)
			name_callback_objects(*sec, objname);
		if (!s.funcs.empty()) {
			size_t sec = w_.add_section(
			        KP_SEC_FUNCS, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8,
			        sizeof(kp_func_rec),
			        std::vector<uint8_t>(s.funcs.size() * sizeof(kp_func_rec), 0));
			for (size_t i = 0; i < s.funcs.size(); i++) {
				const ReplacedFunc &f = s.funcs[i];
				kp_func_rec rec{};
				rec.sympos = f.sympos;
				rec.old_size = f.orig->size;
				rec.new_size = f.patched->size;
				uint64_t base = i * sizeof rec;
				std::memcpy(w_.data(sec).data() + base, &rec, sizeof rec);
				string_ptr(sec, base + offsetof(kp_func_rec, objname), objname);
				string_ptr(sec, base + offsetof(kp_func_rec, name), f.orig->name);
				w_.add_reloc(sec, base + offsetof(kp_func_rec, new_func),
				             R_X86_64_64, item_sym_.at(f.patched), 0);
			}
		}
		if (!recs.empty()) {
			size_t sec = w_.add_section(
			        KP_SEC_SYMS, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8,
			        sizeof(kp_sym_rec),
			        std::vector<uint8_t>(recs.size() * sizeof(kp_sym_rec), 0));
			for (size_t i = 0; i < recs.size(); i++) {
				kp_sym_rec rec{};
				rec.sympos = recs[i]->sympos;
				uint64_t base = i * sizeof rec;
				std::memcpy(w_.data(sec).data() + base, &rec, sizeof rec);
				string_ptr(sec, base + offsetof(kp_sym_rec, objname), objname);
				string_ptr(sec, base + offsetof(kp_sym_rec, name), recs[i]->name);
				size_t xi = sel_.external_index.at(recs[i]->out_name);
				w_.add_reloc(sec, base + offsetof(kp_sym_rec, addr), R_X86_64_64,
				             ext_sym_[xi], recs[i]->anchor_delta);
			}
		}

		emit_values(objname);
		emit_addrs(objname);
		if (!kp_relocs_.empty()) {
			size_t sec = w_.add_section(
			        KP_SEC_RELOCS, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8,
			        sizeof(kp_reloc_rec),
			        std::vector<uint8_t>(kp_relocs_.size() * sizeof(kp_reloc_rec), 0));
			for (size_t i = 0; i < kp_relocs_.size(); i++) {
				const PendingReloc &p = kp_relocs_[i];
				const External &x = s.externals.at(p.external);
				switch (p.type) {
				case R_X86_64_64:
				case R_X86_64_PC32:
				case R_X86_64_PLT32:
				case R_X86_64_32S: break;
				default:
					throw Error(ErrorKind::unsupported,
					            patched_.path() + ": " + p.user +
					                    " refers to " + x.name + " of module " +
					                    objname + " with relocation type " +
					                    std::to_string(p.type) +
					                    ", which kp_relocs cannot apply");
				}
				kp_reloc_rec rec{};
				rec.sympos = x.sympos;
				rec.addend = p.addend;
				rec.type = p.type;
				uint64_t base = i * sizeof rec;
				std::memcpy(w_.data(sec).data() + base, &rec, sizeof rec);
				w_.add_reloc(sec, base + offsetof(kp_reloc_rec, dest), R_X86_64_64,
				             w_.section_symbol(p.out_sec),
				             static_cast<int64_t>(p.offset));
				string_ptr(sec, base + offsetof(kp_reloc_rec, objname), objname);
				string_ptr(sec, base + offsetof(kp_reloc_rec, name), x.name);
			}
		}
	}

	// One kp_addrs record per target function whose address the patch takes.
	void emit_addrs(const std::string &objname)
	{
		if (addrs_.empty())
			return;
		size_t sec = w_.add_section(
		        KP_SEC_ADDRS, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8, sizeof(kp_addr_rec),
		        std::vector<uint8_t>(addrs_.size() * sizeof(kp_addr_rec), 0));
		for (size_t i = 0; i < addrs_.size(); i++) {
			const External &x = sel_.externals.at(addrs_[i]->external);
			kp_addr_rec rec{};
			rec.sympos = x.sympos;
			uint64_t base = i * sizeof rec;
			std::memcpy(w_.data(sec).data() + base, &rec, sizeof rec);
			string_ptr(sec, base + offsetof(kp_addr_rec, objname), objname);
			string_ptr(sec, base + offsetof(kp_addr_rec, name), x.name);
			string_ptr(sec, base + offsetof(kp_addr_rec, user), addrs_[i]->user);
		}
	}

	// One kp_values record per KP_TRANSFER_VALUE variable, the values inline.
	void emit_values(const std::string &objname)
	{
		const auto &vals = sel_.values;
		if (vals.empty())
			return;
		size_t sec = w_.add_section(
		        KP_SEC_VALUES, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8, sizeof(kp_value_rec),
		        std::vector<uint8_t>(vals.size() * sizeof(kp_value_rec), 0));
		for (size_t i = 0; i < vals.size(); i++) {
			const ValueTransfer &v = *vals[i].value;
			kp_value_rec rec{};
			rec.sympos = vals[i].sympos;
			rec.size = v.new_value.size();
			std::memcpy(rec.old_value, v.old_value.data(), v.old_value.size());
			std::memcpy(rec.new_value, v.new_value.data(), v.new_value.size());
			uint64_t base = i * sizeof rec;
			std::memcpy(w_.data(sec).data() + base, &rec, sizeof rec);
			string_ptr(sec, base + offsetof(kp_value_rec, objname), objname);
			string_ptr(sec, base + offsetof(kp_value_rec, name), v.orig->name);
		}
	}

	// kpatch-macros.h leaves a callback record's object to diffgen: the target.
	void name_callback_objects(const elf::Section &sec, const std::string &objname)
	{
		if (sec.size() % sizeof(kp_callback_rec))
			throw Error(patched_.path() + ": section " + sec.name + " is " +
			            std::to_string(sec.size()) + " bytes, not a multiple of the " +
			            std::to_string(sizeof(kp_callback_rec)) +
			            "-byte kp_callback_rec");
		for (uint64_t off = 0; off < sec.size(); off += sizeof(kp_callback_rec)) {
			uint64_t at = off + offsetof(kp_callback_rec, objname);
			auto [b, e] = sec.relocs_in(at, at + 8);
			if (b == e)
				string_ptr(piece_sec_.at(&sec), at, objname);
		}
	}

	elf::Writer &writer() { return w_; }
	size_t anchored_relocations() const { return anchored_; }

private:
	// @by_section: an item is referred to through its section's symbol, not its own.
	void reloc(size_t out_sec, uint64_t offset, const elf::Reloc &r, const std::string &user,
	           bool by_section = false)
	{
		const Ref &ref = sel_.refs.at(&r);
		elf::Writer::SymId sym;
		int64_t addend = ref.addend;
		switch (ref.kind) {
		case Ref::Item:
			if (by_section) {
				sym = w_.section_symbol(item_sec_.at(ref.item));
				addend += static_cast<int64_t>(item_pad_.at(ref.item));
			} else {
				sym = item_sym_.at(ref.item);
			}
			break;
		case Ref::Piece: sym = w_.section_symbol(piece_sec_.at(ref.piece)); break;
		default:
			const External &x = sel_.externals.at(ref.external);
			if (x.via_kp_relocs) {
				kp_relocs_.push_back(
				        {out_sec, offset, r.type, ref.external, ref.addend, user});
				return;
			}
			sym = ext_sym_.at(ref.external);
			if (!x.anchor.empty()) {
				addend += x.anchor_delta;
				anchored_++;
			}
		}
		w_.add_reloc(out_sec, offset, r.type, sym, addend);
	}

	// One undefined symbol per name (anchors are shared).
	elf::Writer::SymId undefined(const std::string &name)
	{
		auto [it, fresh] = undefined_.emplace(name, 0);
		if (fresh)
			it->second = w_.add_symbol(name, STT_NOTYPE, STB_GLOBAL, SHN_UNDEF, 0, 0);
		return it->second;
	}

	void string_ptr(size_t sec, uint64_t offset, const std::string &s)
	{
		auto it = string_off_.find(s);
		uint64_t off;
		if (it != string_off_.end()) {
			off = it->second;
		} else {
			auto &d = w_.data(strings_);
			off = d.size();
			d.insert(d.end(), s.begin(), s.end());
			d.push_back(0);
			string_off_.emplace(s, off);
		}
		w_.add_reloc(sec, offset, R_X86_64_64, strsym_, static_cast<int64_t>(off));
	}

	struct PendingReloc {
		size_t out_sec;
		uint64_t offset;
		uint32_t type;
		size_t external;
		int64_t addend;
		std::string user;
	};

	const Selection &sel_;
	const elf::Object &patched_;
	const Options &opts_;
	elf::Writer w_;
	std::unordered_map<std::string, elf::Writer::SymId> undefined_;
	size_t anchored_ = 0;
	std::vector<PendingReloc> kp_relocs_;
	std::vector<const AddressTaken *> addrs_; // the kp_addrs records
	std::unordered_map<const elf::Symbol *, size_t> item_sec_;
	std::unordered_map<const elf::Symbol *, uint64_t> item_pad_; // padding kept before it
	std::unordered_map<const elf::Symbol *, elf::Writer::SymId> item_sym_;
	std::unordered_map<const elf::Section *, size_t> piece_sec_;
	std::vector<elf::Writer::SymId> ext_sym_;
	std::unordered_map<std::string, uint64_t> string_off_;
	size_t strings_ = 0;
	elf::Writer::SymId strsym_ = 0;
};

} // namespace

WriteSummary write_patch_object(const Selection &sel, const std::vector<AddressTaken> &addrs,
                                const elf::Object &patched, const Options &opts,
                                const std::string &path)
{
	Emitter em(sel, addrs, patched, opts);
	em.emit_items();
	em.emit_special();
	em.emit_records();
	take(support::write_atomically(
	        path, [&](const std::string &tmp) { return em.writer().write(tmp); }));
	return {em.anchored_relocations()};
}

} // namespace kp::diffgen
