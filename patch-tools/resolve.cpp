#include "resolve.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>

#include "elf_file.hpp"
#include "error.hpp"
#include <kp/abi.h>
#include "tree_copy.hpp"

namespace kpb {
namespace {

constexpr size_t kSymRecSize = sizeof(struct kp_sym_rec);
static_assert(kSymRecSize == 32, "kp_sym_rec layout");

std::string pos_text(const std::string& name, uint64_t sympos) {
  return name + "," + std::to_string(sympos);
}

// Relocation sections applying to section index `target`.
std::vector<Elf_Scn*> relas_for(const ElfFile& f, size_t target) {
  std::vector<Elf_Scn*> out;
  for (Elf_Scn* scn = elf_nextscn(f.get(), nullptr); scn; scn = elf_nextscn(f.get(), scn)) {
    GElf_Shdr sh = f.shdr(scn);
    if ((sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL) && sh.sh_info == target) out.push_back(scn);
  }
  return out;
}

// Reads the C string a relocation (symbol + addend) points at.
std::string string_at(const ElfFile& f, const std::vector<ElfSymbol>& syms, size_t symidx,
                      int64_t addend) {
  if (symidx >= syms.size()) throw Error(f.path() + ": kp_syms: bad symbol index");
  const GElf_Sym& s = syms[symidx].sym;
  if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE)
    throw Error(f.path() + ": kp_syms: string relocated against undefined symbol " + syms[symidx].name);
  Elf_Scn* scn = f.section(s.st_shndx);
  Elf_Data* d = scn ? elf_getdata(scn, nullptr) : nullptr;
  if (!d || !d->d_buf) throw Error(f.path() + ": kp_syms: string section has no data");
  uint64_t off = s.st_value + static_cast<uint64_t>(addend);
  if (off >= d->d_size) throw Error(f.path() + ": kp_syms: string offset out of range");
  const char* p = static_cast<const char*>(d->d_buf) + off;
  return std::string(p, strnlen(p, d->d_size - off));
}

}  // namespace

VmlinuxSymbols VmlinuxSymbols::load(const std::string& vmlinux) {
  VmlinuxSymbols v;
  v.path_ = vmlinux;
  ElfFile f(vmlinux);
  std::map<size_t, bool> percpu_section;
  auto is_percpu = [&](size_t shndx) {
    auto it = percpu_section.find(shndx);
    if (it != percpu_section.end()) return it->second;
    Elf_Scn* scn = f.section(shndx);
    bool p = scn && f.section_name(scn) == ".data..percpu";
    percpu_section[shndx] = p;
    return p;
  };
  auto syms = read_symbols(f);
  std::map<std::string, std::vector<const ElfSymbol*>> globals;
  for (const auto& s : syms) {
    if (s.name.empty() || s.sym.st_shndx == SHN_UNDEF) continue;
    int type = GELF_ST_TYPE(s.sym.st_info);
    if (type == STT_SECTION || type == STT_FILE) continue;
    if (s.name.rfind("__ksymtab_", 0) == 0) v.exported_.insert(s.name.substr(10));
    bool abs = s.sym.st_shndx == SHN_ABS;
    Entry e{s.sym.st_value, !abs && s.sym.st_shndx < SHN_LORESERVE && is_percpu(s.sym.st_shndx), abs};
    v.by_name_[s.name].push_back(e);
    if (GELF_ST_BIND(s.sym.st_info) != STB_LOCAL) globals[s.name].push_back(&s);
  }
  for (auto& [name, list] : v.by_name_)
    std::stable_sort(list.begin(), list.end(),
                     [](const Entry& a, const Entry& b) { return a.addr < b.addr; });
  for (const auto& name : v.exported_) {
    auto it = globals.find(name);
    if (it == globals.end() || it->second.size() != 1) continue;
    const ElfSymbol* s = it->second.front();
    if (s->sym.st_shndx == SHN_ABS || s->sym.st_shndx >= SHN_LORESERVE) continue;
    (is_percpu(s->sym.st_shndx) ? v.percpu_anchors_ : v.text_anchors_)
        .push_back({name, s->sym.st_value});
  }
  auto by_addr = [](const Anchor& a, const Anchor& b) { return a.addr < b.addr; };
  std::sort(v.text_anchors_.begin(), v.text_anchors_.end(), by_addr);
  std::sort(v.percpu_anchors_.begin(), v.percpu_anchors_.end(), by_addr);
  return v;
}

VmlinuxSymbols::Entry VmlinuxSymbols::lookup(const std::string& name, uint64_t sympos) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end())
    throw Error("symbol " + name + " is not in " + path_ + " (the patch refers to a vmlinux symbol "
                "this kernel does not have)");
  const auto& list = it->second;
  if (sympos == 0) {
    if (list.size() != 1)
      throw Error("symbol " + name + " is ambiguous in " + path_ + ": " + std::to_string(list.size()) +
                  " symbols have that name and the patch gives no position (sympos 0)");
    return list.front();
  }
  if (sympos > list.size())
    throw Error("symbol " + pos_text(name, sympos) + " not found in " + path_ + ": only " +
                std::to_string(list.size()) + " symbol(s) of that name");
  return list[sympos - 1];
}

const VmlinuxSymbols::Anchor& VmlinuxSymbols::anchor_for(const Entry& e) const {
  const auto& list = e.percpu ? percpu_anchors_ : text_anchors_;
  if (list.empty())
    throw Error(std::string("no exported ") + (e.percpu ? "per-CPU " : "") + "symbol in " + path_ +
                " to anchor a reference to");
  auto it = std::lower_bound(list.begin(), list.end(), e.addr,
                             [](const Anchor& a, uint64_t addr) { return a.addr < addr; });
  if (it == list.end()) return list.back();
  if (it == list.begin()) return *it;
  auto prev = std::prev(it);
  return (e.addr - prev->addr) <= (it->addr - e.addr) ? *prev : *it;
}

std::vector<SymRecord> read_sym_records(const std::string& object) {
  ElfFile f(object);
  std::vector<SymRecord> out;
  Elf_Scn* scn = f.find_section(KP_SEC_SYMS);
  if (!scn) return out;
  GElf_Shdr sh = f.shdr(scn);
  if (sh.sh_size % kSymRecSize != 0)
    throw Error(object + ": section kp_syms has size " + std::to_string(sh.sh_size) +
                ", not a multiple of " + std::to_string(kSymRecSize));
  size_t n = sh.sh_size / kSymRecSize;
  out.resize(n);
  Elf_Data* data = elf_getdata(scn, nullptr);
  auto syms = read_symbols(f);
  std::vector<int> seen(n * 4, 0);
  for (Elf_Scn* rs : relas_for(f, elf_ndxscn(scn))) {
    GElf_Shdr rsh = f.shdr(rs);
    if (rsh.sh_type != SHT_RELA) throw Error(object + ": kp_syms has REL relocations (RELA expected)");
    Elf_Data* rd = elf_getdata(rs, nullptr);
    size_t rn = rsh.sh_entsize ? rsh.sh_size / rsh.sh_entsize : 0;
    for (size_t i = 0; i < rn; ++i) {
      GElf_Rela r;
      if (!gelf_getrela(rd, static_cast<int>(i), &r)) continue;
      size_t rec = r.r_offset / kSymRecSize, field = r.r_offset % kSymRecSize;
      if (rec >= n) continue;
      size_t symidx = GELF_R_SYM(r.r_info);
      if (field == offsetof(struct kp_sym_rec, objname)) {
        out[rec].objname = string_at(f, syms, symidx, r.r_addend);
      } else if (field == offsetof(struct kp_sym_rec, name)) {
        out[rec].name = string_at(f, syms, symidx, r.r_addend);
      } else if (field == offsetof(struct kp_sym_rec, addr)) {
        if (symidx >= syms.size() || syms[symidx].sym.st_shndx != SHN_UNDEF)
          throw Error(object + ": kp_syms record " + std::to_string(rec) +
                      ": addr is not relocated against an undefined symbol");
        if (r.r_addend != 0)
          throw Error(object + ": kp_syms record " + std::to_string(rec) + ": addr has addend " +
                      std::to_string(r.r_addend) + " (0 expected)");
        out[rec].undef_symbol = symidx;
      } else {
        continue;
      }
      seen[rec * 4 + field / 8] = 1;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!seen[i * 4] || !seen[i * 4 + 1] || !seen[i * 4 + 3])
      throw Error(object + ": kp_syms record " + std::to_string(i) +
                  " lacks a relocation for objname, name or addr");
    if (data && data->d_buf && data->d_size >= (i + 1) * kSymRecSize) {
      uint64_t pos;
      std::memcpy(&pos, static_cast<const char*>(data->d_buf) + i * kSymRecSize +
                            offsetof(struct kp_sym_rec, sympos), sizeof pos);
      out[i].sympos = pos;
    }
  }
  return out;
}

ResolveReport resolve_object(const std::string& input, const std::string& output,
                             const VmlinuxSymbols& vmlinux) {
  ResolveReport report;
  auto records = read_sym_records(input);
  {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(output).parent_path(), ec);
    std::filesystem::remove(output, ec);
    struct stat st;
    if (stat(input.c_str(), &st) != 0) throw_errno("stat " + input);
    copy_file_preserving(input, output, st);
  }
  if (records.empty()) return report;

  auto strbuf = std::make_unique<std::string>();  // must outlive the ELF handle
  ElfFile f(output, ElfFile::Mode::kReadWrite);
  Elf_Scn* symtab = f.symtab();
  if (!symtab) throw Error(input + ": no symbol table");
  GElf_Shdr symsh = f.shdr(symtab);
  Elf_Data* symdata = elf_getdata(symtab, nullptr);
  Elf_Scn* strtab = f.section(symsh.sh_link);
  GElf_Shdr strsh = f.shdr(strtab);

  // undefined symbol index -> (anchor, delta)
  struct Rewrite {
    std::string anchor;
    int64_t delta;
    size_t resolved_index;
  };
  std::map<size_t, Rewrite> rewrites;
  for (const auto& rec : records) {
    if (rec.objname != KP_OBJ_VMLINUX) {
      report.left_to_core.push_back(rec.objname + ":" + pos_text(rec.name, rec.sympos));
      continue;
    }
    if (vmlinux.exported(rec.name)) continue;  // the module loader resolves it
    VmlinuxSymbols::Entry e;
    try {
      e = vmlinux.lookup(rec.name, rec.sympos);
    } catch (const Error& err) {
      throw Error(input + ": " + err.what());
    }
    if (e.absolute)
      throw Error(input + ": symbol " + rec.name + " is an absolute symbol of vmlinux; it cannot be "
                  "anchored to an exported symbol");
    const auto& a = vmlinux.anchor_for(e);
    int64_t delta = static_cast<int64_t>(e.addr - a.addr);
    auto [it, fresh] = rewrites.emplace(rec.undef_symbol, Rewrite{a.name, delta, report.symbols.size()});
    if (!fresh) {
      if (it->second.delta != delta || it->second.anchor != a.name)
        throw Error(input + ": two kp_syms records share an undefined symbol but name different "
                    "vmlinux symbols (" + rec.name + ")");
      continue;
    }
    report.symbols.push_back({rec.name, rec.sympos, e.addr, a.name, delta, 0});
  }
  if (rewrites.empty()) return report;

  // New names for the rewritten symbols: appended to the string table.
  std::map<std::string, size_t> name_offset;
  for (auto& [idx, rw] : rewrites) {
    if (name_offset.count(rw.anchor)) continue;
    name_offset[rw.anchor] = strsh.sh_size + strbuf->size();
    *strbuf += rw.anchor;
    strbuf->push_back('\0');
  }
  Elf_Data* nd = elf_newdata(strtab);
  if (!nd) throw Error(output + ": cannot extend the string table: " + elf_errmsg(-1));
  nd->d_buf = strbuf->data();
  nd->d_size = strbuf->size();
  nd->d_type = ELF_T_BYTE;
  nd->d_align = 1;
  nd->d_version = EV_CURRENT;

  for (auto& [idx, rw] : rewrites) {
    GElf_Sym s;
    if (!gelf_getsym(symdata, static_cast<int>(idx), &s)) throw Error(output + ": bad symbol index");
    s.st_name = static_cast<GElf_Word>(name_offset[rw.anchor]);
    s.st_info = GELF_ST_INFO(STB_GLOBAL, STT_NOTYPE);
    gelf_update_sym(symdata, static_cast<int>(idx), &s);
  }
  elf_flagdata(symdata, ELF_C_SET, ELF_F_DIRTY);

  size_t symtab_index = elf_ndxscn(symtab);
  for (Elf_Scn* scn = elf_nextscn(f.get(), nullptr); scn; scn = elf_nextscn(f.get(), scn)) {
    GElf_Shdr sh = f.shdr(scn);
    if ((sh.sh_type != SHT_RELA && sh.sh_type != SHT_REL) || sh.sh_link != symtab_index) continue;
    Elf_Data* d = elf_getdata(scn, nullptr);
    size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
    bool dirty = false;
    for (size_t i = 0; i < n; ++i) {
      if (sh.sh_type == SHT_REL) {
        GElf_Rel r;
        if (gelf_getrel(d, static_cast<int>(i), &r) && rewrites.count(GELF_R_SYM(r.r_info)))
          throw Error(output + ": section " + f.section_name(scn) +
                      " uses REL relocations; cannot add the anchor distance");
        continue;
      }
      GElf_Rela r;
      if (!gelf_getrela(d, static_cast<int>(i), &r)) continue;
      auto it = rewrites.find(GELF_R_SYM(r.r_info));
      if (it == rewrites.end()) continue;
      r.r_addend += it->second.delta;
      gelf_update_rela(d, static_cast<int>(i), &r);
      ++report.symbols[it->second.resolved_index].relocations;
      ++report.relocations;
      dirty = true;
    }
    if (dirty) elf_flagdata(d, ELF_C_SET, ELF_F_DIRTY);
  }
  f.update();
  return report;
}

}  // namespace kpb
