// RAII ownership of the libelf handle on a file descriptor the caller owns.
#pragma once

#include <gelf.h>
#include <libelf.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kp::ctl {

class ElfFile {
public:
	// Reads the open file @fd (which must outlive this object), named @path in messages.
	// Throws Error(not_module) if libelf cannot read it as ELF.
	ElfFile(int fd, const std::string &path);
	~ElfFile();
	ElfFile(const ElfFile &) = delete;
	ElfFile &operator=(const ElfFile &) = delete;

	Elf *elf() const { return elf_.get(); }
	const std::string &path() const { return path_; }

	GElf_Ehdr header() const;
	// The section named @name the kernel's module loader uses (find_sec(): the first
	// with SHF_ALLOC; one without it is ignored), or nullptr.
	Elf_Scn *loaded_section(const std::string &name) const;
	std::string section_name(Elf_Scn *scn) const;
	GElf_Shdr shdr(Elf_Scn *scn) const;
	// The section's bytes (empty for SHT_NOBITS).
	std::vector<unsigned char> bytes(Elf_Scn *scn) const;

private:
	struct ElfEnd {
		void operator()(Elf *e) const { elf_end(e); }
	};
	std::string path_;
	std::unique_ptr<Elf, ElfEnd> elf_;
};

} // namespace kp::ctl
