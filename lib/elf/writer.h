// Builds a relocatable x86_64 ELF object with libelf: sections, a symbol table (locals
// first, as ELF requires) and one SHT_RELA section per relocated section.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "support/error.h"

namespace kp::elf {

class Writer {
public:
	using SymId = size_t;

	// Returns the section index in the output (1-based).
	size_t add_section(const std::string &name, uint32_t type, uint64_t flags, uint64_t align,
	                   uint64_t entsize, std::vector<uint8_t> data, uint64_t nobits_size = 0);
	std::vector<uint8_t> &data(size_t shndx) { return sections_.at(shndx - 1).data; }
	SymId add_symbol(const std::string &name, unsigned char type, unsigned char bind,
	                 size_t shndx, uint64_t value, uint64_t size, unsigned char other = 0);
	SymId section_symbol(size_t shndx);
	void add_reloc(size_t shndx, uint64_t offset, uint32_t type, SymId sym, int64_t addend);
	size_t section_count() const { return sections_.size(); }

	// Writes the object to @path (not atomically: see support/atomic_file.h).
	Expected<void> write(const std::string &path) const;

private:
	struct Rel {
		uint64_t offset;
		uint32_t type;
		SymId sym;
		int64_t addend;
	};
	struct Sec {
		std::string name;
		uint32_t type;
		uint64_t flags, align, entsize, nobits_size;
		std::vector<uint8_t> data;
		std::vector<Rel> relocs;
		SymId secsym = SIZE_MAX;
	};
	struct Sym {
		std::string name;
		unsigned char type, bind, other;
		size_t shndx;
		uint64_t value, size;
	};
	void write_file(const std::string &path) const;
	std::vector<size_t> symbol_order(size_t *first_global) const;
	std::vector<uint8_t> symtab_bytes(const std::vector<size_t> &final_index,
	                                  std::vector<uint8_t> *strtab) const;
	std::vector<uint8_t> rela_bytes(const Sec &s, const std::vector<size_t> &final_index) const;
	std::vector<Sec> sections_;
	std::vector<Sym> symbols_;
};

} // namespace kp::elf
