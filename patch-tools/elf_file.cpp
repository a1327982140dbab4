#include "elf_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "error.hpp"

namespace kpb {

ElfFile::ElfFile(const std::string& path, Mode mode) : path_(path) {
  if (elf_version(EV_CURRENT) == EV_NONE) throw Error("libelf initialisation failed");
  fd_ = open(path.c_str(), (mode == Mode::kRead ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd_ < 0) throw_errno("cannot open " + path);
  elf_ = elf_begin(fd_, mode == Mode::kRead ? ELF_C_READ_MMAP : ELF_C_RDWR, nullptr);
  if (!elf_ || elf_kind(elf_) != ELF_K_ELF) {
    if (elf_) elf_end(elf_);
    close(fd_);
    throw Error(path + ": not an ELF file");
  }
  if (elf_getshdrstrndx(elf_, &shstrndx_) != 0) {
    elf_end(elf_);
    close(fd_);
    throw Error(path + ": no section header string table");
  }
}

ElfFile::~ElfFile() {
  if (elf_) elf_end(elf_);
  if (fd_ >= 0) close(fd_);
}

std::string ElfFile::section_name(Elf_Scn* scn) const {
  GElf_Shdr sh = shdr(scn);
  const char* n = elf_strptr(elf_, shstrndx_, sh.sh_name);
  return n ? n : "";
}

GElf_Shdr ElfFile::shdr(Elf_Scn* scn) const {
  GElf_Shdr sh;
  if (!gelf_getshdr(scn, &sh)) throw Error(path_ + ": bad section header");
  return sh;
}

Elf_Scn* ElfFile::find_section(const std::string& name) const {
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn))
    if (section_name(scn) == name) return scn;
  return nullptr;
}

Elf_Scn* ElfFile::symtab() const {
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn))
    if (shdr(scn).sh_type == SHT_SYMTAB) return scn;
  return nullptr;
}

void ElfFile::update() {
  if (elf_update(elf_, ELF_C_WRITE) < 0)
    throw Error(path_ + ": cannot write ELF: " + elf_errmsg(-1));
}

std::vector<ElfSymbol> read_symbols(const ElfFile& f) {
  std::vector<ElfSymbol> out;
  Elf_Scn* scn = f.symtab();
  if (!scn) return out;
  GElf_Shdr sh = f.shdr(scn);
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (!data || sh.sh_entsize == 0) return out;
  size_t n = sh.sh_size / sh.sh_entsize;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    GElf_Sym s;
    if (!gelf_getsym(data, static_cast<int>(i), &s)) continue;
    const char* name = elf_strptr(f.get(), sh.sh_link, s.st_name);
    out.push_back({name ? name : "", s, i});
  }
  return out;
}

std::string read_build_id(const ElfFile& f) {
  for (Elf_Scn* scn = elf_nextscn(f.get(), nullptr); scn; scn = elf_nextscn(f.get(), scn)) {
    if (f.shdr(scn).sh_type != SHT_NOTE) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) continue;
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
      const char* base = static_cast<const char*>(data->d_buf);
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          std::string(base + name_off, 3) == "GNU") {
        static const char hex[] = "0123456789abcdef";
        std::string id;
        for (size_t i = 0; i < nh.n_descsz; ++i) {
          auto b = static_cast<unsigned char>(base[desc_off + i]);
          id += hex[b >> 4];
          id += hex[b & 15];
        }
        return id;
      }
    }
  }
  return {};
}

std::vector<std::string> read_section_strings(const ElfFile& f, const std::string& section) {
  std::vector<std::string> out;
  Elf_Scn* scn = f.find_section(section);
  if (!scn) return out;
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (!data || !data->d_buf) return out;
  const char* p = static_cast<const char*>(data->d_buf);
  std::string cur;
  for (size_t i = 0; i < data->d_size; ++i) {
    if (p[i] == '\0') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += p[i];
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace kpb
