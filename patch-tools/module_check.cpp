#include "module_check.h"

#include <fstream>
#include <kp/abi.h>
#include <sstream>

#include "elf/object.h"
#include "error.h"
#include "records/modinfo.h"

namespace kp::build {

std::set<std::string> read_symvers(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw Error("cannot read " + path);
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
	auto f = kp::elf::Object::open(ko, {.relocatable_only = true, .relocations = false});
	if (!f)
		throw Error(f.error().message());
	const kp::elf::Object &obj = **f;
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
	if (m.funcs == 0)
		throw Error(ko + ": no kp_funcs records (the module would replace nothing)");
	if (m.build_id != build_id)
		throw Error(ko + ": records build ID '" + m.build_id + "', vmlinux has " +
		            build_id);
	if (m.release != release)
		throw Error(ko + ": records release '" + m.release + "', the tree is " + release);
	if (m.vermagic.rfind(release + " ", 0) != 0 && m.vermagic != release)
		throw Error(ko + ": vermagic '" + m.vermagic + "' is not for " + release);
	return m;
}

} // namespace kp::build
