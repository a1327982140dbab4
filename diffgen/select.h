// Stage 4: what goes into the patch object.  Changed and new functions, then everything
// they reference that is new (new data, string literals, anonymous constants, special
// statics); references to unchanged symbols become references to the running kernel.
#pragma once
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "compare.h"
#include "correlate.h"
#include "elf/object.h"
#include "ksym/symbols.h"
#include "options.h"
#include "references.h"

namespace kp::diffgen {

// A symbol of the running kernel the patch refers to.
struct External {
	std::string name;     // name in the target
	std::string out_name; // the undefined symbol in the output object
	bool local = false;
	bool found = false; // present in the --symbols target
	bool exported = false;
	uint64_t sympos = 0;
	bool record = false; // gets a kp_sym_rec
	// A symbol of a module target: the module may load after the patch, so the core
	// applies these relocations itself (kp_reloc_rec) instead of the module loader.
	bool via_kp_relocs = false;
	// Options::anchor: a non-exported vmlinux symbol reached as an exported anchor plus
	// the constant distance (valid for the build ID the patch records); the module loader
	// resolves the anchor.  Empty: the undefined symbol is out_name itself.
	std::string anchor;
	int64_t anchor_delta = 0;
	std::vector<std::string> users; // included items referring to it (for --explain)
};

// Where one relocation of an included piece points in the output.
struct Ref {
	enum Kind { Item, Piece, Extern } kind = Extern;
	const elf::Symbol *item = nullptr;
	const elf::Section *piece = nullptr;
	size_t external = 0;
	int64_t addend = 0;
};

// Entries of a special section kept because they belong to included functions.
struct KeptEntries {
	const elf::Section *sec;
	uint64_t entsize;
	std::vector<uint64_t> entries; // entry indices, in order
};

struct ReplacedFunc {
	const elf::Symbol *orig;
	const elf::Symbol *patched;
	uint64_t sympos;
};

// A kp_values record: a transferred variable and where it is in the target.
struct SelectedValue {
	const ValueTransfer *value;
	uint64_t sympos;
};

struct Selection {
	std::vector<const elf::Symbol *> items;
	std::unordered_set<const elf::Symbol *> item_set;
	std::vector<const elf::Section *> pieces;
	std::unordered_set<const elf::Section *> piece_set;
	std::vector<External> externals;
	std::unordered_map<std::string, size_t> external_index; // by out_name
	std::vector<ReplacedFunc> funcs;
	std::vector<KeptEntries> special;
	std::vector<SelectedValue> values;
	// Where each relocation of an included item, piece or special entry points: what the
	// writer emits, decided here so that writing selects nothing.
	std::unordered_map<const elf::Reloc *, Ref> refs;
	std::vector<std::string> refusals;
};

class Selector {
public:
	Selector(const elf::Object &orig, const elf::Object &patched, const Correlation &corr,
	         const Comparison &cmp, const ksym::SymbolTable *target, const Options &opts);

	// Picks the initial set and closes it over references.
	void run();
	// Takes the special-section entries that belong to included code (stage 5) and
	// includes what they refer to; the selection is finished after it.
	void include_special(std::vector<KeptEntries> special);

	const Selection &selection() const { return sel_; }
	const elf::Object &patched() const { return patched_; }
	const elf::Object &orig() const { return orig_; }
	const Options &options() const { return opts_; }
	const ksym::SymbolTable *target() const { return target_; }

private:
	void include_item(const elf::Symbol *item);
	void include_piece(const elf::Section *sec);
	size_t external(const std::string &name, bool local, const std::string &user);
	void anchor(External &e, const std::string &user) const;
	// Where @r (in @from, an included section) points; includes what it needs.
	Ref use(const elf::Reloc &r, const elf::Section *from, const std::string &user);
	Ref decide(const elf::Reloc &r, const elf::Section *from, const std::string &user);
	// Includes what the items and pieces added since the last call need.
	void close();
	void select_values();

	const elf::Object &orig_, &patched_;
	const Correlation &corr_;
	const Comparison &cmp_;
	const ksym::SymbolTable *target_;
	const Options &opts_;
	// Global names the patched object defines: never anchors (the loader would bind a
	// reference to the patch module's own copy).
	std::unordered_set<std::string_view> own_globals_;
	Selection sel_;
	std::deque<const elf::Symbol *> todo_items_;
	std::deque<const elf::Section *> todo_pieces_;
};

} // namespace kp::diffgen
