// The running kernel's symbols as kallsyms shows them, read from the target's ELF file
// (vmlinux or MODULE.ko): sympos, exports (__ksymtab_<name>) and anchors.
//
// The one sympos rule, the core's (kmod/core/symbols.c kp_lookup, include/kp/abi.h):
// 0 when the name is unique in the object, else the 1-based position of the symbol among
// the object's symbols of that name in ADDRESS order.  A module's addresses are those
// the module loader gives it (layout.h); its symbol-table order does not count.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "elf/object.h"
#include "support/error.h"

namespace kp::ksym {

// One symbol kallsyms lists for the object.
struct KernelSymbol {
	const elf::Symbol *sym = nullptr;
	uint64_t addr = 0;      // vmlinux: the link address; module: the offset the loader gives it
	size_t file = SIZE_MAX; // STT_FILE block of a local; SIZE_MAX for a global
	bool percpu = false;    // in .data..percpu: the value is an offset in the per-CPU area
	std::string_view name() const { return sym->name; }
	bool local() const { return sym->is_local(); }
	bool absolute() const { return sym->is_absolute(); }
};

// An exported symbol a non-exported one is reached from: anchor + delta.
struct Anchor {
	std::string name;
	uint64_t addr = 0;
	int64_t delta = 0; // target address - anchor address
};

class SymbolTable {
public:
	// Reads vmlinux (symbols and notes only) or a module .ko.
	static Expected<std::unique_ptr<SymbolTable>> open(const std::string &path);
	static Expected<std::unique_ptr<SymbolTable>> from(std::unique_ptr<elf::Object> obj);

	const std::string &path() const { return obj_->path(); }
	const elf::Object &object() const { return *obj_; }
	bool is_module() const { return obj_->is_relocatable(); }

	// The symbols named @name, in address order.
	std::span<const KernelSymbol *const> named(std::string_view name) const;
	// THE sympos rule: 0 when @s's name is unique, else its 1-based address-order position.
	uint64_t sympos(const KernelSymbol &s) const;
	// name + sympos -> the symbol, as the core resolves it (errors: missing, ambiguous).
	Expected<const KernelSymbol *> lookup(std::string_view name, uint64_t sympos) const;
	// The target's symbol that @name of the relocatable object @obj stands for: a global
	// of that name, or for a local the one in the STT_FILE block matching @obj best.
	const KernelSymbol *counterpart(const std::string &name, bool local,
	                                const elf::Object &obj) const;
	// Why counterpart() found none for a local @name the target has several of ("" when
	// that is not the reason).
	std::string why_no_counterpart(const std::string &name) const;

	// Exported with EXPORT_SYMBOL*: the object has __ksymtab_<name>.
	bool exported(std::string_view name) const { return exported_.count(name) != 0; }
	// The nearest exported global of the same kind (text/data or per-CPU) to @s, of
	// those @usable accepts (all when empty): a patch must not anchor on a name it
	// defines itself, which the module loader would resolve to the patch's own copy.
	Expected<Anchor> anchor_for(const KernelSymbol &s,
	                            const std::function<bool(std::string_view)> &usable = {}) const;

	// IBT (CONFIG_X86_KERNEL_IBT, endbr.cpp): what an indirect call to the function @s
	// lands on in the running kernel.
	enum class Endbr {
		unknown, // the object shows no IBT (no seal list, no ENDBR at @s)
		present, // ENDBR64 at the entry, and objtool did not list it for sealing
		sealed,  // in objtool's .ibt_endbr_seal: poisoned at boot (vmlinux) or load
		missing, // no ENDBR64 at the entry of an object built with IBT (__noendbr, asm)
	};
	Endbr endbr(const KernelSymbol &s) const;
	// The object carries objtool's seal list (.ibt_endbr_seal).
	bool has_seal_list() const { return has_seal_list_; }

private:
	SymbolTable() = default;
	void index();
	void index_anchors();
	void index_seals();
	size_t best_block(const elf::Object &obj) const;

	std::unique_ptr<elf::Object> obj_;
	std::vector<KernelSymbol> symbols_;
	std::unordered_map<std::string_view, std::vector<const KernelSymbol *>>
	        by_name_; // address order
	std::unordered_set<std::string_view> exported_;
	std::vector<std::string_view> block_files_;
	std::vector<const KernelSymbol *> text_anchors_, percpu_anchors_; // address order
	bool has_seal_list_ = false;
	// Each sealed ENDBR as (section index, offset in the section).
	std::set<std::pair<size_t, uint64_t>> sealed_;
	mutable std::mutex block_mutex_; // counterpart() may be called from several threads
	mutable std::unordered_map<const elf::Object *, size_t> block_cache_;
};

} // namespace kp::ksym
