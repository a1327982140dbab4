#include "ksym/symbols.h"

#include <algorithm>

#include "ksym/layout.h"

namespace kp::ksym {

namespace {

// Per-CPU symbols of a module live in another allocation: after everything else.
constexpr uint64_t kPercpuBase = uint64_t(1) << 62;

} // namespace

Expected<std::unique_ptr<SymbolTable>> SymbolTable::open(const std::string &path)
{
	auto obj = elf::Object::open(path, {.relocatable_only = false, .relocations = false});
	if (!obj)
		return obj.error();
	return from(std::move(*obj));
}

Expected<std::unique_ptr<SymbolTable>> SymbolTable::from(std::unique_ptr<elf::Object> obj)
{
	if (!obj->has_symtab())
		return Error(ErrorKind::format, obj->path() + ": no symbol table (.symtab)");
	auto t = std::unique_ptr<SymbolTable>(new SymbolTable());
	t->obj_ = std::move(obj);
	t->index();
	t->index_anchors();
	t->index_seals();
	return t;
}

// The symbols kallsyms lists, their addresses, and the name index in address order.
void SymbolTable::index()
{
	bool module = is_module();
	std::vector<std::optional<uint64_t>> layout;
	if (module)
		layout = module_core_layout(*obj_);
	size_t block = SIZE_MAX;
	symbols_.reserve(obj_->symbols().size());
	for (const auto &sp : obj_->symbols()) {
		const elf::Symbol &s = *sp;
		if (s.type == STT_FILE) {
			block = block_files_.size();
			block_files_.push_back(s.name);
			continue;
		}
		if (s.type == STT_SECTION || s.shndx == SHN_UNDEF || s.name.empty())
			continue;
		std::string_view name = s.name;
		if (name.starts_with("__ksymtab_"))
			exported_.insert(name.substr(10));
		KernelSymbol k{&s, s.value, s.is_local() ? block : SIZE_MAX, false};
		k.percpu = s.sec && s.sec->name == ".data..percpu";
		if (module) {
			if (!s.sec || !module_keeps_symbols_of(*s.sec))
				continue;
			k.addr = k.percpu ? kPercpuBase + s.value : *layout[s.sec->index] + s.value;
		}
		symbols_.push_back(k);
	}
	for (const KernelSymbol &k : symbols_)
		by_name_[k.name()].push_back(&k);
	for (auto &[name, v] : by_name_)
		std::stable_sort(v.begin(), v.end(),
		                 [](const KernelSymbol *a, const KernelSymbol *b) {
			                 return a->addr < b->addr;
		                 });
}

// Anchors: exported symbols defined once as a global, by address (text/data and per-CPU).
void SymbolTable::index_anchors()
{
	for (const auto &[name, v] : by_name_) {
		if (!exported(name))
			continue;
		const KernelSymbol *only = nullptr;
		size_t globals = 0;
		for (const KernelSymbol *k : v)
			if (!k->local()) {
				only = k;
				globals++;
			}
		if (globals != 1 || only->absolute() || !only->sym->sec)
			continue;
		(only->percpu ? percpu_anchors_ : text_anchors_).push_back(only);
	}
	auto by_addr = [](const KernelSymbol *a, const KernelSymbol *b) {
		return a->addr != b->addr ? a->addr < b->addr : a->name() < b->name();
	};
	std::sort(text_anchors_.begin(), text_anchors_.end(), by_addr);
	std::sort(percpu_anchors_.begin(), percpu_anchors_.end(), by_addr);
}

std::span<const KernelSymbol *const> SymbolTable::named(std::string_view name) const
{
	auto it = by_name_.find(name);
	if (it == by_name_.end())
		return {};
	return it->second;
}

uint64_t SymbolTable::sympos(const KernelSymbol &s) const
{
	auto v = named(s.name());
	if (v.size() <= 1)
		return 0;
	auto it = std::find(v.begin(), v.end(), &s);
	return static_cast<uint64_t>(it - v.begin()) + 1;
}

Expected<const KernelSymbol *> SymbolTable::lookup(std::string_view name, uint64_t sympos) const
{
	auto v = named(name);
	std::string n(name);
	if (v.empty())
		return Error(ErrorKind::lookup,
		             "symbol " + n + " is not in " + path() +
		                     " (the patch refers to a symbol this kernel does not have)");
	if (sympos == 0) {
		if (v.size() != 1)
			return Error(ErrorKind::lookup,
			             "symbol " + n + " is ambiguous in " + path() + ": " +
			                     std::to_string(v.size()) +
			                     " symbols have that name and the patch gives no "
			                     "position (sympos 0)");
		return v.front();
	}
	if (sympos > v.size())
		return Error(ErrorKind::lookup, "symbol " + n + "," + std::to_string(sympos) +
		                                        " not found in " + path() + ": only " +
		                                        std::to_string(v.size()) +
		                                        " symbol(s) of that name");
	return v[sympos - 1];
}

size_t SymbolTable::best_block(const elf::Object &obj) const
{
	std::lock_guard lock(block_mutex_);
	auto cached = block_cache_.find(&obj);
	if (cached != block_cache_.end())
		return cached->second;
	// Score each STT_FILE block by how many of the object's local names it holds.
	std::unordered_map<size_t, size_t> score;
	for (const auto &s : obj.symbols()) {
		if (!s->is_local() || !s->is_item())
			continue;
		for (const KernelSymbol *k : named(s->name))
			if (k->local() && k->file != SIZE_MAX)
				score[k->file]++;
	}
	size_t best = SIZE_MAX, best_score = 0;
	for (auto [b, sc] : score) {
		if (!obj.file_name().empty() && block_files_[b] == obj.file_name())
			sc++;
		if (sc > best_score || (sc == best_score && b < best)) {
			best_score = sc;
			best = b;
		}
	}
	block_cache_[&obj] = best;
	return best;
}

const KernelSymbol *SymbolTable::counterpart(const std::string &name, bool local,
                                             const elf::Object &obj) const
{
	auto v = named(name);
	if (v.size() == 1)
		return v.front();
	if (!local) {
		for (const KernelSymbol *k : v)
			if (!k->local())
				return k;
		return nullptr;
	}
	if (v.empty())
		return nullptr;
	size_t block = best_block(obj);
	// No STT_FILE block of the target matches (e.g. symbols without STT_FILE entries, as
	// `objcopy --strip-debug` leaves them): several locals, none known to be @obj's.
	if (block == SIZE_MAX)
		return nullptr;
	for (const KernelSymbol *k : v)
		if (k->local() && k->file == block)
			return k;
	return nullptr;
}

std::string SymbolTable::why_no_counterpart(const std::string &name) const
{
	auto v = named(name);
	size_t locals = 0, with_file = 0;
	for (const KernelSymbol *k : v)
		if (k->local()) {
			++locals;
			with_file += k->file != SIZE_MAX;
		}
	if (locals < 2)
		return {};
	return std::to_string(locals) + " local symbols are named " + name + " in " + path() +
	       (with_file ? " and no STT_FILE block of it matches this object's locals"
	                  : " and it has no STT_FILE symbols to tell them apart");
}

Expected<Anchor> SymbolTable::anchor_for(const KernelSymbol &s,
                                         const std::function<bool(std::string_view)> &usable) const
{
	const auto &list = s.percpu ? percpu_anchors_ : text_anchors_;
	auto ok = [&](const KernelSymbol *a) { return !usable || usable(a->name()); };
	// Outward from @s's place in address order: the nearest usable one on each side.
	auto it = std::lower_bound(
	        list.begin(), list.end(), s.addr,
	        [](const KernelSymbol *a, uint64_t addr) { return a->addr < addr; });
	const KernelSymbol *after = nullptr, *before = nullptr;
	for (auto i = it; i != list.end() && !after; ++i)
		if (ok(*i))
			after = *i;
	for (auto i = it; i != list.begin() && !before;)
		if (ok(*--i))
			before = *i;
	const KernelSymbol *a = !before                                                   ? after
	                        : !after || s.addr - before->addr <= after->addr - s.addr ? before
	                                                                                  : after;
	if (!a)
		return Error(
		        ErrorKind::lookup,
		        std::string("no exported ") + (s.percpu ? "per-CPU " : "") + "symbol in " +
		                path() + " to anchor a reference to" +
		                (list.empty() ? "" : " that the patch does not define itself"));
	return Anchor{std::string(a->name()), a->addr, static_cast<int64_t>(s.addr - a->addr)};
}

} // namespace kp::ksym
