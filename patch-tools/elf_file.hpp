// RAII handles for libelf and small helpers shared by the ELF stages.
#pragma once
#include <gelf.h>
#include <libelf.h>

#include <optional>
#include <string>
#include <vector>

namespace kpb {

class ElfFile {
 public:
  enum class Mode { kRead, kReadWrite };
  ElfFile(const std::string& path, Mode mode = Mode::kRead);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  Elf* get() const { return elf_; }
  const std::string& path() const { return path_; }
  std::string section_name(Elf_Scn* scn) const;
  Elf_Scn* find_section(const std::string& name) const;
  Elf_Scn* section(size_t index) const { return elf_getscn(elf_, index); }
  GElf_Shdr shdr(Elf_Scn* scn) const;
  // The symbol table (SHT_SYMTAB) or null.
  Elf_Scn* symtab() const;
  // Writes the in-memory changes back to the file.
  void update();

 private:
  std::string path_;
  int fd_ = -1;
  Elf* elf_ = nullptr;
  size_t shstrndx_ = 0;
};

struct ElfSymbol {
  std::string name;
  GElf_Sym sym;
  size_t index;
};

std::vector<ElfSymbol> read_symbols(const ElfFile& f);

// GNU build ID as lowercase hex, or empty.
std::string read_build_id(const ElfFile& f);

// NUL-separated strings of a section (e.g. .comment).
std::vector<std::string> read_section_strings(const ElfFile& f, const std::string& section);

}  // namespace kpb
