// kpctl's subcommands.  Each returns the exit status or throws Error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "errors.h"
#include "probation.h"

namespace kp::ctl {

struct LoadOptions {
	std::string file;
	double timeout = 60;
	std::string core; // --core PATH
	ProbationOptions probation;
	bool force = false;                     // --force: load even if rolled back before
	std::vector<std::string> canary;        // --canary SELECTOR...: a canary of these processes
	std::optional<std::string> rollback_on; // --rollback-on warn,stack: added to the policy
	std::optional<std::string> on_timeout;  // --on-timeout pending|reverse: this load's
	bool keep_replaced = false;             // --keep-replaced: leave replaced patches loaded
};

struct ConfirmOptions {
	std::string target; // patch name or module build ID
};

struct CanaryOptions {
	std::string name; // patch name
	double timeout = 60;
};

struct UnloadOptions {
	std::string target; // NAME or FILE.ko
	double timeout = 60;
};

struct InstallOptions {
	std::string file;    // the patch module
	std::string core;    // --core PATH; else $KP_CORE, else kp_core.ko beside file
	std::string release; // --release; else the running kernel's
};

struct LoadAllOptions {
	bool boot = false; // --boot: the boot unit's run, off with kp.enable=0
	double timeout = 60;
};

Exit cmd_load(const LoadOptions &o);
Exit cmd_install(const InstallOptions &o);
Exit cmd_uninstall(const std::string &name, const std::string &release);
Exit cmd_list_installed(const std::string &release, bool json);
Exit cmd_load_all(const LoadAllOptions &o);
// Whether the kernel command line @cmdline turns `load --all --boot` off (kp.enable=0).
bool boot_disabled(const std::string &cmdline);
Exit cmd_unload(const UnloadOptions &o);
Exit cmd_promote(const CanaryOptions &o);
Exit cmd_abort(const CanaryOptions &o);
Exit cmd_status(const std::optional<std::string> &name, bool json);
Exit cmd_list(const std::optional<std::string> &dir, bool json);
Exit cmd_info(const std::string &file, bool json);
Exit cmd_confirm(const ConfirmOptions &o);

// Throws Error(not_root) unless running as root.
void require_root(const char *what);

// Throws Error(wrong_kernel) unless @m targets the running kernel.
struct ModuleInfo;
void check_target(const ModuleInfo &m);
// true / false / nullopt (running kernel's build ID unreadable).
std::optional<bool> matches_running_kernel(const ModuleInfo &m);

} // namespace kp::ctl
