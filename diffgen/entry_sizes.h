// Sizes of special-section entries, taken from the kernel build: the section's
// sh_entsize when set, else the struct/type size in DWARF (libdw) of the kernel image
// or of the object itself.  Never guessed.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kp::diffgen {

struct SpecialKind {
	const char *section;
	const char *type_name; // DWARF struct (or base type) of one entry
	bool is_struct;
};

// The special sections diffgen filters, with the type of one entry.
const SpecialKind *special_kind(const std::string &section);
std::span<const SpecialKind> special_kinds();

class EntrySizes {
public:
	// @dwarf_files: ELF files with DWARF to look types up in, first match wins.
	explicit EntrySizes(std::vector<std::string> dwarf_files) : files_(std::move(dwarf_files))
	{}
	// Size of one entry of @kind, or nullopt when no DWARF source has the type.
	std::optional<uint64_t> size_of(const SpecialKind &kind);
	const std::vector<std::string> &files() const { return files_; }

private:
	void scan(const std::string &file);
	std::vector<std::string> files_;
	std::map<std::string, uint64_t> found_;
	size_t scanned_ = 0;
};

} // namespace kp::diffgen
