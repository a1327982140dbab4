// Resolve stage: turns references to non-exported vmlinux symbols (diffgen keeps them as
// relocations against undefined symbols and lists them in kp_syms) into relocations against
// an exported anchor symbol of the same vmlinux plus the constant distance between the two.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kpb {

// The symbols of the running kernel's vmlinux that the resolve stage needs.
class VmlinuxSymbols {
 public:
  struct Entry {
    uint64_t addr;
    bool percpu;  // in .data..percpu: the value is an offset in the per-CPU area
    bool absolute;
  };
  struct Anchor {
    std::string name;
    uint64_t addr;
  };

  static VmlinuxSymbols load(const std::string& vmlinux);

  // name+sympos -> the entry; throws Error (exit 1) when not found or ambiguous.
  Entry lookup(const std::string& name, uint64_t sympos) const;
  bool exported(const std::string& name) const { return exported_.count(name) != 0; }
  // The exported symbol of the same kind nearest to `e`. Throws when there is none.
  const Anchor& anchor_for(const Entry& e) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, std::vector<Entry>> by_name_;  // address order
  std::set<std::string> exported_;
  std::vector<Anchor> text_anchors_, percpu_anchors_;  // address order
};

struct SymRecord {
  std::string objname;
  std::string name;
  uint64_t sympos = 0;
  size_t undef_symbol = 0;  // index of the undefined symbol the addr field is relocated against
};

// Reads the kp_syms records of a diffgen output object.
std::vector<SymRecord> read_sym_records(const std::string& object);

struct ResolvedSymbol {
  std::string name;
  uint64_t sympos;
  uint64_t addr;
  std::string anchor;
  int64_t delta;  // addr - anchor address
  size_t relocations;
};

struct ResolveReport {
  std::vector<ResolvedSymbol> symbols;
  size_t relocations = 0;
  std::vector<std::string> left_to_core;  // module-target records (the core resolves them)
};

// Copies `input` to `output` and rewrites it. Throws Error naming the symbol when a record's
// symbol is missing in vmlinux, ambiguous, or has no usable anchor.
ResolveReport resolve_object(const std::string& input, const std::string& output,
                             const VmlinuxSymbols& vmlinux);

}  // namespace kpb
