#include <unistd.h>

#include <iomanip>
#include <iostream>

#include "commands/commands.h"
#include "json.h"
#include "kernel.h"
#include "module_file.h"

namespace kp::ctl {

void require_root(const char *what)
{
	if (::geteuid() != 0)
		throw Error(Exit::not_root, std::string("kpctl ") + what +
		                                    " needs root (it loads and removes kernel "
		                                    "modules); run it as root or with sudo");
}

std::optional<bool> matches_running_kernel(const ModuleInfo &m)
{
	try {
		return m.target_build_id == running_build_id() &&
		       m.vermagic_release == running_release();
	} catch (const Error &) {
		return std::nullopt;
	}
}

void check_target(const ModuleInfo &m)
{
	std::string release = running_release();
	std::string id = running_build_id();
	if (m.target_build_id.empty())
		throw Error(Exit::wrong_kernel,
		            m.path + " does not record the build ID of its target kernel "
		                     "(kp_target_build_id); rebuild it with kp-build");
	if (m.target_build_id != id)
		throw Error(Exit::wrong_kernel,
		            m.path + " was built for " +
		                    (m.target_release.empty() ? "the kernel"
		                                              : "kernel " + m.target_release) +
		                    " with build ID " + m.target_build_id +
		                    ", but the running kernel " + release + " has build ID " + id +
		                    "; rebuild the patch for this kernel (kp-build --kernel " +
		                    release + ")");
	if (m.vermagic_release != release)
		throw Error(Exit::wrong_kernel,
		            m.path + " was built for kernel release " + m.vermagic_release +
		                    " (vermagic), but the running kernel is " + release +
		                    "; rebuild the patch against this kernel's tree");
	if (!m.target_release.empty() && m.target_release != release)
		throw Error(Exit::wrong_kernel,
		            m.path + " targets kernel release " + m.target_release +
		                    ", but the running kernel is " + release +
		                    "; rebuild the patch against this kernel's tree");
}

namespace {

// Callbacks, states and shadow variable ids (issue 15).
void print_state_transfer(const ModuleInfo &m)
{
	auto &o = std::cout;
	o << "callbacks (" << m.callbacks.size() << "):\n";
	for (const auto &c : m.callbacks) {
		o << "  " << c.object;
		const std::pair<const char *, const Pointer *> kinds[] = {
		        {"pre_patch", &c.pre_patch},
		        {"post_patch", &c.post_patch},
		        {"pre_unpatch", &c.pre_unpatch},
		        {"post_unpatch", &c.post_unpatch}};
		for (const auto &[kind, ptr] : kinds)
			if (ptr->kind != Pointer::Kind::null)
				o << "  " << kind << "=" << ptr->describe();
		o << "\n";
	}
	o << "states (" << m.states.size() << "):\n";
	for (const auto &s : m.states)
		o << "  id " << s.id << " version " << s.version << "\n";
	o << "shadow variable ids declared (" << m.shadows.size() << "):\n";
	for (const auto &s : m.shadows)
		o << "  id " << s.id << "  dtor " << s.dtor.describe() << "\n";
	o << "transferred values (" << m.values.size() << "):\n";
	for (const auto &v : m.values)
		o << "  " << v.object << " " << v.variable << "," << v.sympos << "  "
		  << v.old_value.size() << " bytes  " << records::value_text(v.old_value) << " -> "
		  << records::value_text(v.new_value) << "\n";
}

} // namespace

Exit cmd_info(const std::string &file, bool json)
{
	ModuleInfo m = read_module(file);
	auto match = matches_running_kernel(m);
	if (json) {
		std::cout << module_json(m, match).dump(2) << "\n";
		return Exit::ok;
	}
	auto &o = std::cout;
	o << "name:     " << m.name << "\n";
	o << "file:     " << m.path << "\n";
	o << "target:   release " << m.target_release << ", build ID " << m.target_build_id << "\n";
	o << "vermagic: " << m.vermagic << "\n";
	o << "running kernel: "
	  << (!match   ? "unknown"
	      : *match ? "matches"
	               : "does NOT match")
	  << "\n";
	o << "sources (" << m.sources.size() << "):\n";
	for (const auto &s : m.sources)
		o << "  " << s.file << "  sha256 " << s.sha256 << "\n";
	o << "functions replaced (" << m.funcs.size() << "):\n";
	for (const auto &f : m.funcs)
		o << "  " << f.object << " " << f.function << "," << f.sympos << "  old size 0x"
		  << std::hex << f.old_size << std::dec << "  -> " << f.new_func.describe() << "\n";
	o << "symbols checked at load (kp_syms, " << m.syms.size() << "):\n";
	for (const auto &s : m.syms)
		o << "  " << s.object << " " << s.symbol << "," << s.sympos << "  expected at "
		  << s.expected.describe() << "\n";
	o << "relocations applied by the core (kp_relocs, " << m.relocs.size() << "):\n";
	for (const auto &r : m.relocs)
		o << "  " << r.object << " " << r.symbol << "," << r.sympos << "  " << r.type_name()
		  << " addend " << r.addend << " at " << r.dest.describe() << "\n";
	print_state_transfer(m);
	o << "undefined symbols (resolved by the module loader, " << m.undefined.size() << "):\n";
	for (const auto &u : m.undefined)
		o << "  " << u << "\n";
	return Exit::ok;
}

} // namespace kp::ctl
