// kpctl install, uninstall, list --installed and load --all (issue 26): the patches kept
// for boot in kpctl's state folder (installed.h) and loading them at boot.
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "commands/commands.h"
#include "commands/wait.h"
#include "installed.h"
#include "kernel.h"
#include "memory.h"
#include "module_fd.h"
#include "module_file.h"
#include "paths.h"
#include "sysfs.h"

namespace fs = std::filesystem;

namespace kp::ctl {

namespace {

// The kp_core.ko to keep with the patch: --core, $KP_CORE, or kp_core.ko beside it.
ModuleFd open_core(const InstallOptions &o)
{
	std::vector<std::string> cands;
	if (!o.core.empty()) {
		cands.push_back(o.core);
	} else {
		if (const char *env = std::getenv("KP_CORE"); env && *env)
			cands.push_back(env);
		cands.push_back((fs::path(o.file).parent_path() / "kp_core.ko").string());
	}
	for (const auto &c : cands) {
		std::error_code ec;
		if (fs::exists(c, ec))
			return ModuleFd::open(c);
	}
	std::string tried;
	for (const auto &c : cands)
		tried += (tried.empty() ? "" : ", ") + c;
	throw Error(Exit::core_missing, "no kp_core.ko to install with " + o.file + " (tried " +
	                                        tried +
	                                        "); give the one kp-build wrote beside it "
	                                        "with --core PATH");
}

// The release @m was built for: its kp_target_release, else its vermagic's.
std::string built_for(const ModuleInfo &m)
{
	return m.target_release.empty() ? m.vermagic_release : m.target_release;
}

std::string list_json(const installed::Release &r)
{
	nlohmann::json j;
	j["release"] = r.release;
	j["dir"] = r.dir;
	j["patches"] = nlohmann::json::array();
	for (size_t i = 0; i < r.patches.size(); i++) {
		const auto &p = r.patches[i];
		nlohmann::json e{
		        {"order", i + 1}, {"name", p.name}, {"module", p.module}, {"core", p.core}};
		try {
			auto m = read_module(p.module);
			e["build_id"] = m.build_id;
			auto rb = find_rolled_back(m.build_id);
			e["rolled_back"] = rb && rb->confirmed ? nlohmann::json(rb->why)
			                                       : nlohmann::json(nullptr);
			e["error"] = nullptr;
		} catch (const Error &err) {
			e["build_id"] = nullptr;
			e["rolled_back"] = nullptr;
			e["error"] = err.what();
		}
		e["loaded"] = module_loaded(p.name);
		j["patches"].push_back(e);
	}
	j["problems"] = r.problems;
	return j.dump(2);
}

} // namespace

bool boot_disabled(const std::string &cmdline)
{
	std::istringstream in(cmdline);
	bool off = false;
	for (std::string w; in >> w;) // the last one counts, as for kernel parameters
		if (w.rfind("kp.enable=", 0) == 0) {
			std::string v = w.substr(10);
			off = v == "0" || v == "n" || v == "N" || v == "no" || v == "off";
		}
	return off;
}

Exit cmd_install(const InstallOptions &o)
{
	// One descriptor each: what is checked is what is copied.
	ModuleFd file = ModuleFd::open(o.file);
	ModuleInfo m = read_module(file);
	const bool running = o.release.empty();
	const std::string release = running ? running_release() : o.release;
	const std::string target = built_for(m);
	if (target != release || m.vermagic_release != release)
		throw Error(Exit::wrong_kernel,
		            o.file + " is built for kernel " + target + " (vermagic " +
		                    m.vermagic_release + "), not for " + release +
		                    (running ? ", the running kernel" : "") +
		                    "; nothing was installed; install it for its release with "
		                    "--release " +
		                    target);
	if (running)
		check_target(m); // the same release string, but another build of it
	ModuleFd core = open_core(o);
	ModuleInfo c = read_module(core, false);
	if (c.name != "kp_core")
		throw Error(Exit::core_failed,
		            core.path() + " is module " + c.name +
		                    ", not the core module kp_core; nothing "
		                    "was installed; give kp_core.ko with --core");
	if (c.vermagic_release != release)
		throw Error(Exit::wrong_kernel,
		            core.path() + " is built for kernel " + c.vermagic_release +
		                    ", not for " + release +
		                    "; nothing was installed; give the kp_core.ko kp-build wrote "
		                    "beside " +
		                    o.file + " with --core");
	auto outcome = installed::install(file, m, core, release);
	auto r = installed::read_release(release);
	size_t pos = 0;
	for (size_t i = 0; i < r.patches.size(); i++)
		if (r.patches[i].name == m.name)
			pos = i + 1;
	const char *what = outcome == installed::Outcome::installed ? "installed"
	                   : outcome == installed::Outcome::replaced
	                           ? "installed (replacing the previous module of that name)"
	                           : "already installed (unchanged)";
	std::cout << "kpctl: patch " << m.name << " " << what << " for " << release << " in "
	          << r.dir << "/" << m.name << ", load order " << pos << " of " << r.patches.size()
	          << "\n";
	for (const auto &p : r.problems)
		std::cerr << "kpctl: warning: " << p << "\n";
	return Exit::ok;
}

Exit cmd_uninstall(const std::string &name_or_file, const std::string &release_opt)
{
	std::string name = support::normalize_module_name(name_or_file);
	const std::string release = release_opt.empty() ? running_release() : release_opt;
	if (!installed::valid_name(name))
		throw Error(Exit::usage, "'" + name_or_file + "' is not a patch name");
	if (!installed::uninstall(release, name))
		throw Error(Exit::unknown_patch, "patch " + name + " is not installed for " +
		                                         release + " (in " +
		                                         paths::installed_dir(release) +
		                                         "); kpctl list --installed shows what is");
	std::cout << "kpctl: patch " << name << " uninstalled for " << release << "\n";
	if (release == running_release() && module_loaded(name))
		std::cout << "kpctl: patch " << name << " is still loaded; kpctl unload " << name
		          << " removes it from the running kernel\n";
	return Exit::ok;
}

Exit cmd_list_installed(const std::string &release_opt, bool json)
{
	const std::string release = release_opt.empty() ? running_release() : release_opt;
	auto r = installed::read_release(release);
	save_rolled_back();
	if (json) {
		std::cout << list_json(r) << "\n";
		return Exit::ok;
	}
	std::cout << "Installed for " << release << " (" << r.dir << "), in load order:\n";
	if (r.patches.empty())
		std::cout << "  (none)\n";
	for (size_t i = 0; i < r.patches.size(); i++) {
		const auto &p = r.patches[i];
		std::cout << "  " << i + 1 << ". " << p.name;
		try {
			auto m = read_module(p.module);
			std::cout << " (module build ID " << m.build_id << ")";
			if (auto rb = find_rolled_back(m.build_id); rb && rb->confirmed)
				std::cout << " ROLLED BACK before, not loaded at boot: " << rb->why;
		} catch (const Error &e) {
			std::cout << " UNREADABLE: " << e.what();
		}
		if (module_loaded(p.name))
			std::cout << " [loaded]";
		std::cout << "\n";
	}
	for (const auto &p : r.problems)
		std::cout << "  PROBLEM: " << p << "\n";
	return Exit::ok;
}

Exit cmd_load_all(const LoadAllOptions &o)
{
	if (o.boot) {
		std::ifstream in(paths::kernel_cmdline());
		std::string cmdline((std::istreambuf_iterator<char>(in)),
		                    std::istreambuf_iterator<char>());
		if (boot_disabled(cmdline)) {
			progress("kp.enable=0 on the kernel command line: no installed patch "
			         "loaded");
			return Exit::ok;
		}
	}
	require_root("load --all");
	const std::string release = running_release();
	auto r = installed::read_release(release);
	Exit result = Exit::ok;
	for (const auto &p : r.problems) {
		std::cerr << "kpctl: error: " << p << "\n";
		result = Exit::bad_state;
	}
	if (r.patches.empty())
		progress("no patch installed for " + release + " (" + r.dir + ")");
	save_rolled_back();
	unsigned loaded = 0, skipped = 0;
	for (const auto &p : r.patches) {
		try {
			ModuleInfo m = read_module(p.module);
			if (auto rb = find_rolled_back(m.build_id); rb && rb->confirmed) {
				progress("skipping patch " + p.name + ": rolled back before (" +
				         rb->why + "); kpctl load --force " + p.module +
				         " loads it anyway");
				skipped++;
				continue;
			}
			if (module_loaded(p.name) || read_patch(p.name)) {
				progress("patch " + p.name + " is loaded already");
				continue;
			}
			LoadOptions lo;
			lo.file = p.module;
			lo.core = p.core; // used when no core is loaded yet
			lo.timeout = o.timeout;
			Exit e = cmd_load(lo);
			if (e != Exit::ok && result == Exit::ok)
				result = e;
			if (e == Exit::ok)
				loaded++;
		} catch (const Error &e) {
			std::cerr << "kpctl: error: " << p.name << ": " << e.what() << "\n";
			if (result == Exit::ok)
				result = e.code();
		}
	}
	progress("load --all: " + std::to_string(loaded) + " of " +
	         std::to_string(r.patches.size()) + " installed patch(es) for " + release +
	         " loaded, " + std::to_string(skipped) + " skipped as rolled back");
	return result;
}

} // namespace kp::ctl
