#include "module_check.h"

#include <cstring>
#include <fstream>
#include <kp/abi.h>
#include <sstream>
#include <unordered_map>

#include "elf/object.h"
#include "error.h"
#include "records/modinfo.h"
#include "support/files.h"

namespace kp::build {

std::set<std::string> read_symvers(const std::string &path)
{
	std::istringstream in(take(kp::support::read_text_file(path)));
	std::set<std::string> out;
	std::string line;
	while (std::getline(in, line)) {
		// CRC \t symbol \t module \t export type \t namespace
		auto a = line.find('\t');
		if (a == std::string::npos)
			continue;
		auto b = line.find('\t', a + 1);
		out.insert(
		        line.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1));
	}
	return out;
}

ModuleFacts read_module_facts(const std::string &ko)
{
	auto f = take(kp::elf::Object::open(ko, {.relocatable_only = true, .relocations = false}));
	const kp::elf::Object &obj = *f;
	ModuleFacts m;
	kp::records::Modinfo info = kp::records::read_modinfo(obj);
	m.vermagic = info.first("vermagic");
	m.build_id = info.first("kp_target_build_id");
	m.release = info.first("kp_target_release");
	auto count = [&](const char *sec, size_t size) -> size_t {
		const kp::elf::Section *s = obj.section(sec);
		return s ? s->size() / size : 0;
	};
	m.funcs = count(KP_SEC_FUNCS, sizeof(struct kp_func_rec));
	m.syms = count(KP_SEC_SYMS, sizeof(struct kp_sym_rec));
	m.relocs = count(KP_SEC_RELOCS, sizeof(struct kp_reloc_rec));
	m.values = count(KP_SEC_VALUES, sizeof(struct kp_value_rec));
	for (const auto &s : obj.symbols())
		if (s->is_undefined() && !s->name.empty())
			m.undefined.push_back(s->name);
	return m;
}

ModuleFacts check_module(const std::string &ko, const std::string &tree_symvers,
                         const std::string &core_symvers, const std::string &build_id,
                         const std::string &release)
{
	ModuleFacts m = read_module_facts(ko);
	auto exported = read_symvers(tree_symvers);
	auto core = read_symvers(core_symvers);
	std::string missing;
	for (const auto &u : m.undefined)
		if (!exported.count(u) && !core.count(u))
			missing += " " + u;
	if (!missing.empty())
		throw Error(ko + ": undefined symbols exported neither by vmlinux nor by kp_core:" +
		            missing);
	if (m.funcs == 0 && m.values == 0)
		throw Error(ko + ": no kp_funcs or kp_values records (the module would change "
		                 "nothing)");
	if (m.build_id != build_id)
		throw Error(ko + ": records build ID '" + m.build_id + "', vmlinux has " +
		            build_id);
	if (m.release != release)
		throw Error(ko + ": records release '" + m.release + "', the tree is " + release);
	if (m.vermagic.rfind(release + " ", 0) != 0 && m.vermagic != release)
		throw Error(ko + ": vermagic '" + m.vermagic + "' is not for " + release);
	return m;
}

namespace {

kp::elf::Object &open_or_throw(std::unique_ptr<kp::elf::Object> &keep, const std::string &path,
                               bool relocatable)
{
	auto f = take(kp::elf::Object::open(
	        path, {.relocatable_only = relocatable, .relocations = false}));
	keep = std::move(f);
	return *keep;
}

// vmlinux's CRC of each exported symbol: the 4 bytes at __crc_<name> in __kcrctab*.
std::unordered_map<std::string, uint32_t> image_crcs(const kp::elf::Object &image)
{
	std::unordered_map<std::string, uint32_t> crcs;
	for (const auto &s : image.symbols()) {
		if (s->name.rfind("__crc_", 0) != 0 || !s->sec || s->sec->is_nobits())
			continue;
		uint64_t off = s->value - s->sec->shdr.sh_addr;
		if (s->value < s->sec->shdr.sh_addr || off + 4 > s->sec->data.size())
			throw Error(image.path() + ": " + s->name + " lies outside " +
			            s->sec->name);
		uint32_t crc;
		std::memcpy(&crc, s->sec->data.data() + off, 4);
		crcs.emplace(s->name.substr(6), crc);
	}
	return crcs;
}

// One module's __versions against the image's CRCs; returns how many were compared.
size_t check_module_versions(const std::string &ko, const std::string &vmlinux,
                             const std::unordered_map<std::string, uint32_t> &crcs)
{
	std::unique_ptr<kp::elf::Object> keep_module;
	const kp::elf::Object &mod = open_or_throw(keep_module, ko, true);
	const kp::elf::Section *v = mod.section("__versions");
	if (!v)
		throw Error(ko + ": no __versions section, but " + vmlinux +
		            " has symbol versions (MODVERSIONS): the kernel would refuse it");
	// struct modversion_info: unsigned long crc; char name[64 - sizeof(unsigned long)].
	constexpr size_t entry = 64, name_len = entry - 8;
	if (v->size() % entry != 0 || v->data.size() != v->size())
		throw Error(ko + ": __versions is " + std::to_string(v->size()) +
		            " bytes, not a whole number of 64-byte entries");
	size_t checked = 0;
	for (size_t off = 0; off < v->size(); off += entry) {
		uint64_t crc;
		std::memcpy(&crc, v->data.data() + off, 8);
		const char *name = reinterpret_cast<const char *>(v->data.data() + off + 8);
		std::string sym(name, strnlen(name, name_len));
		auto it = crcs.find(sym);
		if (it == crcs.end())
			continue;
		if (static_cast<uint32_t>(crc) != it->second || (crc >> 32) != 0) {
			char msg[160];
			std::snprintf(msg, sizeof msg,
			              ": symbol %s has CRC 0x%08llx in __versions, the kernel's is "
			              "0x%08x",
			              sym.c_str(), static_cast<unsigned long long>(crc),
			              it->second);
			throw Error(ko + msg + " (" + vmlinux +
			            "): the kernel would refuse it; was the Module.symvers another "
			            "kernel's?");
		}
		++checked;
	}
	return checked;
}

} // namespace

size_t check_versions(const std::vector<std::string> &kos, const std::string &vmlinux)
{
	std::unique_ptr<kp::elf::Object> keep_image;
	auto crcs = image_crcs(open_or_throw(keep_image, vmlinux, false));
	size_t checked = 0;
	if (!crcs.empty())
		for (const auto &ko : kos)
			checked += check_module_versions(ko, vmlinux, crcs);
	return checked;
}

} // namespace kp::build
