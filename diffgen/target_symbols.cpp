#include "target_symbols.h"

#include <fcntl.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "errors.h"

namespace kp::diffgen {

TargetSymbols::~TargetSymbols()
{
	if (elf_)
		elf_end(elf_);
	if (fd_ >= 0)
		close(fd_);
}

std::unique_ptr<TargetSymbols> TargetSymbols::load(const std::string &path)
{
	auto t = std::make_unique<TargetSymbols>();
	t->path_ = path;
	elf_version(EV_CURRENT);
	t->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (t->fd_ < 0)
		throw Error(path + ": cannot open target symbols: " + std::strerror(errno));
	t->elf_ = elf_begin(t->fd_, ELF_C_READ_MMAP, nullptr);
	Elf *elf = t->elf_;
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		throw Error(path + ": not an ELF file");
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf, &eh))
		throw Error(path + ": bad ELF header");
	bool relocatable = eh.e_type == ET_REL;
	Elf_Scn *scn = nullptr;
	Elf_Data *data = nullptr;
	GElf_Shdr sh{};
	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB) {
			data = elf_getdata(scn, nullptr);
			break;
		}
	}
	if (!data || !sh.sh_entsize)
		throw Error(path + ": no symbol table (.symtab)");
	size_t n = sh.sh_size / sh.sh_entsize;
	size_t block = SIZE_MAX;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		if (!gelf_getsym(data, static_cast<int>(i), &s))
			throw Error(path + ": cannot read symbol " + std::to_string(i));
		const char *nm = elf_strptr(elf, sh.sh_link, s.st_name);
		if (!nm)
			throw Error(path + ": symbol " + std::to_string(i) + " has a bad name");
		int type = GELF_ST_TYPE(s.st_info), bind = GELF_ST_BIND(s.st_info);
		if (type == STT_FILE) {
			block = t->block_files_.size();
			t->block_files_.push_back(nm);
			continue;
		}
		if (type == STT_SECTION || s.st_shndx == SHN_UNDEF || !*nm)
			continue;
		std::string_view name = nm;
		if (name.substr(0, 10) == "__ksymtab_")
			t->exported_.insert(name.substr(10));
		bool local = bind == STB_LOCAL;
		// Modules: symtab order is the order module kallsyms walks.
		uint64_t addr = relocatable ? i : s.st_value;
		t->by_name_[name].push_back({addr, local ? block : SIZE_MAX, local});
	}
	for (auto &[name, v] : t->by_name_)
		std::stable_sort(v.begin(), v.end(), [](const Entry &a, const Entry &b) { return a.addr < b.addr; });
	return t;
}

size_t TargetSymbols::best_block(const elf::Object &obj) const
{
	auto it = block_cache_.find(&obj);
	if (it != block_cache_.end())
		return it->second;
	// Score each STT_FILE block by how many of the object's local names it holds.
	std::unordered_map<size_t, size_t> score;
	for (const auto &s : obj.symbols()) {
		if (!s->is_local() || !s->is_item())
			continue;
		auto it = by_name_.find(s->name);
		if (it == by_name_.end())
			continue;
		for (const Entry &e : it->second)
			if (e.local && e.block != SIZE_MAX)
				score[e.block]++;
	}
	size_t best = SIZE_MAX, best_score = 0;
	for (auto [b, sc] : score) {
		if (!obj.file_name().empty() && block_files_[b] == obj.file_name())
			sc++;
		if (sc > best_score || (sc == best_score && b < best)) {
			best_score = sc;
			best = b;
		}
	}
	block_cache_[&obj] = best;
	return best;
}

std::optional<uint64_t> TargetSymbols::sympos(const std::string &name, bool local, const elf::Object &obj) const
{
	auto it = by_name_.find(name);
	if (it == by_name_.end())
		return std::nullopt;
	const auto &v = it->second;
	if (v.size() == 1)
		return 0;
	if (!local) {
		for (size_t i = 0; i < v.size(); i++)
			if (!v[i].local)
				return i + 1;
		return std::nullopt;
	}
	size_t block = best_block(obj);
	for (size_t i = 0; i < v.size(); i++)
		if (v[i].local && v[i].block == block)
			return i + 1;
	return std::nullopt;
}

}  // namespace kp::diffgen
