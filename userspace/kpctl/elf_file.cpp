#include "elf_file.h"

#include "errors.h"

namespace kp::ctl {

ElfFile::ElfFile(int fd, const std::string &path) : path_(path)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		throw Error(Exit::internal, "libelf is too old for this ELF version");
	elf_.reset(elf_begin(fd, ELF_C_READ, nullptr));
	if (!elf_ || elf_kind(elf_.get()) != ELF_K_ELF)
		throw Error(Exit::not_module,
		            path + " is not an ELF file; give a kernel module (.ko)");
}

ElfFile::~ElfFile() = default;

GElf_Ehdr ElfFile::header() const
{
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf_.get(), &eh))
		throw Error(Exit::not_module,
		            path_ + " has no readable ELF header: " + elf_errmsg(-1));
	return eh;
}

GElf_Shdr ElfFile::shdr(Elf_Scn *scn) const
{
	GElf_Shdr sh;
	if (!gelf_getshdr(scn, &sh))
		throw Error(Exit::not_module, path_ + ": bad section header: " + elf_errmsg(-1));
	return sh;
}

std::string ElfFile::section_name(Elf_Scn *scn) const
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf_.get(), &shstrndx) != 0)
		throw Error(Exit::not_module, path_ + ": no section name table");
	const char *n = elf_strptr(elf_.get(), shstrndx, shdr(scn).sh_name);
	return n ? n : "";
}

Elf_Scn *ElfFile::loaded_section(const std::string &name) const
{
	for (Elf_Scn *scn = elf_nextscn(elf_.get(), nullptr); scn;
	     scn = elf_nextscn(elf_.get(), scn)) {
		if ((shdr(scn).sh_flags & SHF_ALLOC) && section_name(scn) == name)
			return scn;
	}
	return nullptr;
}

std::vector<unsigned char> ElfFile::bytes(Elf_Scn *scn) const
{
	GElf_Shdr sh = shdr(scn);
	if (sh.sh_type == SHT_NOBITS)
		return {};
	Elf_Data *d = elf_rawdata(scn, nullptr);
	if (!d || !d->d_buf)
		return {};
	auto *p = static_cast<const unsigned char *>(d->d_buf);
	return {p, p + d->d_size};
}

} // namespace kp::ctl
