#include "loader.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "errors.h"
#include "kernel.h"
#include "kmsg.h"
#include "module_fd.h"
#include "module_file.h"
#include "paths.h"
#include "support/process.h"
#include "sysfs.h"

namespace fs = std::filesystem;

namespace kp::ctl {

int sys_finit_module(int fd, const char *params)
{
	long r = ::syscall(SYS_finit_module, fd, params, 0);
	return r == 0 ? 0 : errno;
}

int load_module(const ModuleFd &file, const std::string &params, FinitFn finit)
{
	return finit(file.fd(), params.c_str());
}

namespace {

// The lockdown mode in force ("integrity", "confidentiality"), or "" when none or unknown.
std::string lockdown_mode()
{
	std::ifstream in(paths::sysfs() + "/kernel/security/lockdown");
	std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	auto b = all.find('['), e = all.find(']');
	if (b == std::string::npos || e == std::string::npos || e < b)
		return "";
	std::string mode = all.substr(b + 1, e - b - 1);
	return mode == "none" ? "" : mode;
}

constexpr const char *sign_hint =
        "; sign it and its kp_core.ko with a key the kernel trusts (kp-build --sign-key KEY "
        "--sign-cert CERT) and enroll that certificate (mokutil --import CERT, then reboot "
        "to confirm it in the firmware)";

} // namespace

std::optional<std::string> signature_refusal(const std::string &file, int err)
{
	switch (err) {
	case EKEYREJECTED:
		return "the kernel requires signed modules and rejected " + file +
		       " (unsigned, or its signature does not verify with the kernel's keys)" +
		       sign_hint;
	case ENOKEY:
		return "the kernel does not have the key " + file + " is signed with" + sign_hint;
	case EBADMSG:
	case EMSGSIZE:
	case ENOPKG:
		return "the kernel cannot check the signature of " + file + " (" +
		       std::strerror(err) + ")" + sign_hint;
	case EPERM:
		if (std::string mode = lockdown_mode(); !mode.empty())
			return "kernel lockdown (" + mode + ") refuses " + file +
			       ", a module without a valid signature" + sign_hint;
		return std::nullopt;
	default: return std::nullopt;
	}
}

int remove_module(const std::string &name)
{
	long r = ::syscall(SYS_delete_module, name.c_str(), O_NONBLOCK);
	return r == 0 ? 0 : errno;
}

std::vector<std::string> core_candidates(const std::string &cli, const std::string &patch_path)
{
	std::vector<std::string> c;
	if (!cli.empty()) {
		c.push_back(cli);
		return c; // an explicit --core is the only candidate
	}
	if (const char *env = std::getenv("KP_CORE"); env && *env)
		c.push_back(env);
	c.push_back((fs::path(patch_path).parent_path() / "kp_core.ko").string());
	c.push_back(paths::installed_core(running_release()));
	return c;
}

namespace {

// modprobe's own words, on one line.
std::string one_line(std::string s)
{
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	for (char &c : s)
		if (c == '\n')
			c = ' ';
	return s;
}

} // namespace

std::vector<std::string> load_dependencies(const ModuleInfo &m)
{
	std::vector<std::string> loaded;
	for (const std::string &list : m.modinfo.values("depends")) {
		for (size_t b = 0; b <= list.size();) {
			size_t e = std::min(list.find(',', b), list.size());
			std::string dep = list.substr(b, e - b);
			b = e + 1;
			if (dep.empty() || dep == core_module_name || module_loaded(dep))
				continue;
			auto r = support::run_process({"modprobe", dep}, {}, {}, 60);
			if (r && r->status == 0 && module_loaded(dep)) {
				loaded.push_back(dep);
				continue;
			}
			remove_dependencies(loaded);
			std::string why =
			        !r ? r.error().message()
			           : (r->timed_out
			                      ? "timed out after 60 s"
			                      : "exit status " + std::to_string(r->status) +
			                                (r->output.empty()
			                                         ? ""
			                                         : ": " + one_line(r->output)));
			throw Error(Exit::load_failed,
			            "patch " + m.name + " needs module " + dep +
			                    " (its depends=), which modprobe " + dep +
			                    " could not load (" + why +
			                    "); nothing was loaded; install the kernel's modules "
			                    "package, or load " +
			                    dep + " first");
		}
	}
	return loaded;
}

bool remove_dependencies(const std::vector<std::string> &names)
{
	bool ok = true;
	for (auto it = names.rbegin(); it != names.rend(); ++it) {
		auto r = support::run_process({"modprobe", "-r", *it}, {}, {}, 60);
		ok &= r && r->status == 0;
	}
	return ok;
}

bool ensure_core(const std::string &cli, const std::string &patch_path)
{
	if (module_loaded(core_module_name))
		return false;
	auto cands = core_candidates(cli, patch_path);
	std::optional<ModuleFd> file;
	for (const auto &p : cands) {
		try {
			file.emplace(ModuleFd::open_trusted(p));
			break;
		} catch (const Error &e) {
			if (e.code() != Exit::file_missing)
				throw;
		}
	}
	if (!file) {
		std::string tried;
		for (const auto &p : cands)
			tried += (tried.empty() ? "" : ", ") + p;
		throw Error(Exit::core_missing, "the core module kp_core is not loaded and "
		                                "kp_core.ko was not found (tried " +
		                                        tried +
		                                        "); install it or pass --core PATH");
	}
	// Refuse to load anything else as the core (that would change the system for nothing).
	const std::string found = file->path();
	std::string name;
	try {
		name = read_module(*file, false).name;
	} catch (const Error &e) {
		throw Error(Exit::core_failed,
		            "cannot use " + found + " as the core module: " + e.what());
	}
	if (name != core_module_name)
		throw Error(Exit::core_failed, found + " is module " + name +
		                                       ", not the core module kp_core; give "
		                                       "kp_core.ko with --core or $KP_CORE");
	KmsgCursor log;
	int err = load_module(*file);
	if (err == EEXIST)
		return false; // loaded concurrently
	if (err) {
		if (auto sig = signature_refusal(found, err))
			throw Error(Exit::core_failed, *sig + "; nothing was loaded");
		std::string why;
		for (const auto &m : core_messages(log.read_new()))
			why += " [" + m + "]";
		throw Error(Exit::core_failed,
		            errno_text("the kernel refused the core module " + found, err) + why +
		                    "; rebuild kp_core.ko for kernel " + running_release());
	}
	// The core's sysfs directory appears during its init; wait briefly if needed.
	for (int i = 0; i < 50 && !core_sysfs_present(); i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	return true;
}

} // namespace kp::ctl
