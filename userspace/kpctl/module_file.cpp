#include "module_file.h"

#include <algorithm>

#include "elf/object.h"
#include "errors.h"
#include "kp/abi.h"
#include "module_fd.h"
#include "records/modinfo.h"

namespace kp::ctl {

namespace {

// A library error as kpctl's: a file it cannot read is missing, one it cannot read as
// an x86_64 ELF object is not a module, bad records are not a (valid) kp patch.
Error as_exit(const kp::Error &e)
{
	switch (e.kind()) {
	case ErrorKind::io: return Error(Exit::file_missing, e.message());
	case ErrorKind::records: return Error(Exit::not_kp_patch, e.message());
	case ErrorKind::internal: return Error(Exit::internal, e.message());
	default: return Error(Exit::not_module, e.message());
	}
}

std::string first_value(const ModuleInfo &m, const std::string &key)
{
	auto v = m.modinfo_values(key);
	return v.empty() ? std::string() : v.front();
}

void read_modinfo(const elf::Object &ko, ModuleInfo &m)
{
	m.modinfo = records::read_modinfo(ko).entries;
	auto first = [&](const std::string &key) { return first_value(m, key); };
	m.vermagic = first("vermagic");
	m.vermagic_release = m.vermagic.substr(0, m.vermagic.find(' '));
	m.target_release = first("kp_target_release");
	m.target_build_id = first("kp_target_build_id");
	for (const std::string &src : m.modinfo_values("kp_source")) {
		auto colon = src.rfind(':');
		if (colon == std::string::npos)
			m.sources.push_back({src, ""});
		else
			m.sources.push_back({src.substr(0, colon), src.substr(colon + 1)});
	}
}

void read_undefined(const elf::Object &ko, ModuleInfo &m)
{
	for (const auto &s : ko.symbols())
		if (s->shndx == SHN_UNDEF && s->index != 0 && !s->name.empty())
			m.undefined.push_back(s->name);
	std::sort(m.undefined.begin(), m.undefined.end());
	m.undefined.erase(std::unique(m.undefined.begin(), m.undefined.end()), m.undefined.end());
}

// The records, and the kp_patch record's strings checked against .modinfo.
void read_records(const elf::Object &ko, ModuleInfo &m)
{
	auto recs = records::read_patch_records(ko);
	if (!recs)
		throw as_exit(recs.error());
	if (const auto &p = recs->patch) {
		m.has_record = true;
		m.abi_version = p->abi_version;
		m.record_name = p->name;
		if (m.target_release.empty())
			m.target_release = p->target_release;
		if (m.target_build_id.empty())
			m.target_build_id = p->target_build_id;
		if (!p->target_build_id.empty() && p->target_build_id != m.target_build_id)
			throw Error(Exit::not_kp_patch,
			            m.path + ": kp_patch record says build ID " +
			                    p->target_build_id + " but modinfo says " +
			                    m.target_build_id +
			                    "; the file was altered, rebuild it with kp-build");
	}
	m.funcs = std::move(recs->funcs);
	m.syms = std::move(recs->syms);
	m.relocs = std::move(recs->relocs);
	m.callbacks = std::move(recs->callbacks);
	m.states = std::move(recs->states);
	m.shadows = std::move(recs->shadows);
	m.values = std::move(recs->values);
	m.rollback_on = recs->rollback_on;
}

} // namespace

std::vector<std::string> ModuleInfo::modinfo_values(const std::string &key) const
{
	std::vector<std::string> out;
	for (const auto &[k, v] : modinfo)
		if (k == key)
			out.push_back(v);
	return out;
}

ModuleInfo read_module(const std::string &path, bool require_kp)
{
	return read_module(ModuleFd::open(path), require_kp);
}

ModuleInfo read_module(const ModuleFd &file, bool require_kp)
{
	const std::string &path = file.path();
	auto ko = elf::Object::from_fd(path, file.fd());
	if (!ko) {
		Error e = as_exit(ko.error());
		if (e.code() != Exit::not_module)
			throw e;
		throw Error(Exit::not_module, e.what() + std::string("; give a .ko built for this "
		                                                     "kernel (x86_64 ELF64 "
		                                                     "relocatable)"));
	}
	// The sections the kernel's module loader uses (find_sec: the first allocated one).
	if (!(*ko)->loaded_section(".modinfo") ||
	    !(*ko)->loaded_section(".gnu.linkonce.this_module"))
		throw Error(Exit::not_module,
		            path + " is an ELF object but not a kernel module (no .modinfo or "
		                   ".gnu.linkonce.this_module); give the .ko, not the .o");
	if (!(*ko)->has_symtab())
		throw Error(Exit::not_module,
		            path + " has no symbol table; give an unstripped kernel module");
	ModuleInfo m;
	m.path = path;
	// The module's name as the kernel takes it: struct module's (modinfo's name= only
	// labels the loader's early messages).
	m.name = records::this_module_name(**ko);
	if (m.name.empty())
		throw Error(Exit::not_module,
		            path + ": .gnu.linkonce.this_module holds no module name "
		                   "(an empty or unterminated struct module name); give a .ko "
		                   "built by Kbuild");
	m.build_id = (*ko)->build_id();
	read_modinfo(**ko, m);
	read_undefined(**ko, m);
	m.kp_patch = (*ko)->loaded_section(KP_SEC_PATCH) || first_value(m, "kp_patch") == "1";
	if (!m.kp_patch) {
		if (require_kp)
			throw Error(
			        Exit::not_kp_patch,
			        path + " (module " + m.name +
			                ") is not a kp patch: it has no kp_patch record; build "
			                "patches with kp-build, load other modules with insmod");
		return m;
	}
	read_records(**ko, m);
	return m;
}

} // namespace kp::ctl
