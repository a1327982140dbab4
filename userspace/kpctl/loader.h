// Loading and removing modules (finit_module / delete_module) and finding kp_core.ko.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kp::ctl {

inline constexpr const char *core_module_name = "kp_core";

class ModuleFd;

// finit_module(2) of an open module file.  Returns 0 or errno.
int sys_finit_module(int fd, const char *params);
using FinitFn = int (*)(int fd, const char *params);
// Loads @file, with @params, through the descriptor it was checked on (never by its
// path again).  @finit is the system call; tests pass one that records the descriptor.
int load_module(const ModuleFd &file, const std::string &params = "",
                FinitFn finit = sys_finit_module);
// When finit_module(2) refused @file with @err because of module signatures (the kernel
// enforces them: module.sig_enforce=1 or CONFIG_MODULE_SIG_FORCE, or lockdown is on), the
// one line that says so and what to do; nullopt for any other refusal.  The lockdown mode
// is read from <sysfs>/kernel/security/lockdown.
std::optional<std::string> signature_refusal(const std::string &file, int err);

// delete_module(@name, O_NONBLOCK).  Returns 0 or errno.
int remove_module(const std::string &name);

// Where kp_core.ko is looked for, in order: @cli (--core), $KP_CORE, kp_core.ko
// beside @patch_path, paths::installed_core (/lib/modules/$(uname -r)/extra/kp_core.ko).
std::vector<std::string> core_candidates(const std::string &cli, const std::string &patch_path);

struct ModuleInfo;

// The modules @m needs besides kp_core (its .modinfo depends=: modules whose exports it
// calls) that are not loaded, loaded as modprobe(8) does, by `modprobe NAME` (which finds
// them, and what they need, among the running kernel's modules).  Returns the ones this
// call loaded, in order.  Throws Error(load_failed) naming the module and modprobe's
// words when one cannot be loaded, after removing those it loaded.
std::vector<std::string> load_dependencies(const ModuleInfo &m);
// `modprobe -r` of @names, last first (those load_dependencies loaded); false if one
// could not be removed.
bool remove_dependencies(const std::vector<std::string> &names);

// Loads the core module if it is not loaded.  Returns true if this call loaded it.
// The first candidate that exists is opened with ModuleFd::open_trusted.  Throws
// Error(core_missing) if no candidate exists, Error(untrusted_module) if the one found
// is not root-only, Error(core_failed) if it is not kp_core or the kernel refuses it.
bool ensure_core(const std::string &cli, const std::string &patch_path);

} // namespace kp::ctl
