// kp's one ELF model: an x86_64 ELF64 file read with libelf into plain structures, in
// the order objtool's elf.c reads one (read_sections, read_symbols, read_relocs), and
// validated on load so users index without checking bounds again.
//
// It serves relocatable objects (diffgen's inputs and output, a linked .ko) and linked
// images (vmlinux: symbols, notes, .comment; ReadOptions{.relocations = false} skips its
// --emit-relocs sections).  The file is mapped, not copied: Section::data views the mapping.
// An xz-compressed file (a .ko.xz module) is read as the ELF file it holds, decompressed
// into memory; one that does not decompress is a format error naming the file.
#pragma once
#include <gelf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "support/error.h"

namespace kp::elf {

struct Symbol;

struct Reloc {
	uint64_t offset = 0; // within the section the relocations apply to
	uint32_t type = 0;
	Symbol *sym = nullptr;
	int64_t addend = 0;
};

struct Section {
	size_t index = 0;
	std::string name;
	GElf_Shdr shdr{};
	std::span<const uint8_t> data; // the file's bytes; empty for SHT_NOBITS
	std::vector<Reloc> relocs;     // from the SHT_RELA section applying to this one, by offset
	Section *rela = nullptr;       // that SHT_RELA section, if any
	Section *base = nullptr;       // for an SHT_RELA section: the section it applies to
	Symbol *secsym = nullptr;      // the STT_SECTION symbol
	std::vector<Symbol *>
	        items; // STT_FUNC / STT_OBJECT symbols defined here, by value (ET_REL)

	uint64_t size() const { return shdr.sh_size; }
	uint64_t flags() const { return shdr.sh_flags; }
	bool is_nobits() const { return shdr.sh_type == SHT_NOBITS; }
	bool is_text() const { return shdr.sh_flags & SHF_EXECINSTR; }
	bool is_strings() const { return (shdr.sh_flags & SHF_STRINGS) != 0; }
	bool is_group() const { return shdr.sh_type == SHT_GROUP; }
	// Relocations whose offset lies in [begin, end).
	std::pair<const Reloc *, const Reloc *> relocs_in(uint64_t begin, uint64_t end) const;
	// The NUL-terminated string at @offset, or nullopt when it runs past the section.
	std::optional<std::string_view> string_at(uint64_t offset) const;
	// The NUL-separated, non-empty strings of the section (.modinfo, .comment).
	std::vector<std::string_view> strings() const;
};

struct Symbol {
	size_t index = 0;
	std::string name;
	unsigned char type = STT_NOTYPE;
	unsigned char bind = STB_LOCAL;
	unsigned char other = 0;
	uint32_t shndx = SHN_UNDEF;
	uint64_t value = 0;
	uint64_t size = 0;
	Section *sec = nullptr; // defining section, null when undefined/absolute/common
	// Items sharing one range (e.g. __do_sys_X and __x64_sys_X): the primary (global
	// first) stands for all of them; the others list it here and are not in Section::items.
	Symbol *alias_of = nullptr;
	std::vector<Symbol *> aliases; // on the primary

	bool is_local() const { return bind == STB_LOCAL; }
	bool is_defined() const { return sec != nullptr; }
	bool is_undefined() const { return shndx == SHN_UNDEF && type != STT_FILE; }
	bool is_absolute() const { return shndx == SHN_ABS; }
	bool is_func() const { return type == STT_FUNC; }
	bool is_object() const { return type == STT_OBJECT || type == STT_TLS; }
	bool is_item() const { return sec && (is_func() || is_object()); }
	bool is_alias() const { return alias_of != nullptr; }
	// The item standing for this one (itself unless an alias).
	const Symbol *primary() const { return alias_of ? alias_of : this; }
};

// An ELF note (SHT_NOTE section entry).
struct Note {
	std::string_view name; // "GNU", "Linux"
	uint32_t type = 0;
	std::span<const uint8_t> desc;
};

struct ReadOptions {
	bool relocatable_only = true; // refuse anything but ET_REL (diffgen's inputs)
	bool relocations = true;      // read_relocs; off for a big linked image
};

class Object {
public:
	// Maps and reads @path; the error names the file and the reason.
	static Expected<std::unique_ptr<Object>> open(const std::string &path,
	                                              const ReadOptions &opts = {});
	// Maps and reads the open file @fd (the caller keeps it open and owns it; the object
	// keeps its own mapping), named @name in messages: what is checked on that descriptor
	// is what is read.
	static Expected<std::unique_ptr<Object>> from_fd(const std::string &name, int fd,
	                                                 const ReadOptions &opts = {});
	// Same from bytes in memory (fuzzing, tests); @name is used in messages.
	static Expected<std::unique_ptr<Object>> from_bytes(const std::string &name,
	                                                    std::vector<uint8_t> bytes,
	                                                    const ReadOptions &opts = {});
	~Object();
	Object(const Object &) = delete;
	Object &operator=(const Object &) = delete;

	const std::string &path() const { return path_; }
	uint16_t type() const { return type_; } // ET_REL, ET_EXEC, ET_DYN
	bool is_relocatable() const { return type_ == ET_REL; }
	const std::vector<std::unique_ptr<Section>> &sections() const { return sections_; }
	const std::vector<std::unique_ptr<Symbol>> &symbols() const { return symbols_; }
	bool has_symtab() const { return has_symtab_; }
	Section *section(std::string_view name) const;
	// The section @name the kernel's module loader uses (find_sec(): the first one with
	// SHF_ALLOC; one without it is never loaded), or nullptr.
	Section *loaded_section(std::string_view name) const;
	// The item (function/object symbol) whose range covers @offset of @sec; with
	// @allow_end also one that ends exactly at @offset (ORC terminators, end labels).
	Symbol *item_at(const Section *sec, uint64_t offset, bool allow_end = false) const;
	// The STT_FILE name of the object ("" when none).
	const std::string &file_name() const { return file_name_; }
	std::span<const uint8_t> bytes() const { return bytes_; }

	// Notes of every SHT_NOTE section, in file order.
	std::vector<Note> notes() const;
	// The GNU build ID as lowercase hex; empty when the file has none.
	std::string build_id() const;

private:
	class Reader;
	Object() = default;
	std::string path_;
	std::string file_name_;
	uint16_t type_ = ET_NONE;
	bool has_symtab_ = false;
	std::span<const uint8_t> bytes_;
	std::vector<uint8_t> owned_; // from_bytes
	void *map_ = nullptr;        // open: the file's mapping
	size_t map_size_ = 0;
	std::vector<std::unique_ptr<Section>> sections_;
	std::vector<std::unique_ptr<Symbol>> symbols_;
	std::unordered_map<std::string_view, Section *> by_name_;
};

// The notes in @bytes, an SHT_NOTE section's content (or /sys/kernel/notes); a truncated
// note ends the list.  The views point into @bytes.
std::vector<Note> parse_notes(std::span<const uint8_t> bytes);
// The first non-empty GNU build ID among @notes as lowercase hex; empty when none.
std::string gnu_build_id(const std::vector<Note> &notes);

// Relocation type helpers (x86_64).
bool is_pcrel(uint32_t type);
const char *reloc_type_name(uint32_t type);

} // namespace kp::elf
