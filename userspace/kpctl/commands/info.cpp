#include <unistd.h>

#include <iostream>

#include "commands/commands.h"
#include "kernel.h"
#include "module_file.h"
#include "render/json.h"
#include "render/text.h"

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

Exit cmd_info(const std::string &file, bool json)
{
	InfoView v;
	v.module = read_module(file);
	v.matches_running_kernel = matches_running_kernel(v.module);
	if (json)
		std::cout << info_json(v).dump(2) << "\n";
	else
		print_info(std::cout, v);
	return Exit::ok;
}

} // namespace kp::ctl
