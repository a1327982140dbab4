// Loading and removing modules (finit_module / delete_module) and finding kp_core.ko.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kpctl {

inline constexpr const char *core_module_name = "kp_core";

// finit_module(@path, @params).  Returns 0 or errno.
int load_module(const std::string &path, const std::string &params = "");
// delete_module(@name, O_NONBLOCK).  Returns 0 or errno.
int remove_module(const std::string &name);

// Where kp_core.ko is looked for, in order: @cli (--core), $KP_CORE, kp_core.ko
// beside @patch_path, /lib/modules/$(uname -r)/extra/kp_core.ko.
std::vector<std::string> core_candidates(const std::string &cli, const std::string &patch_path);

// Loads the core module if it is not loaded.  Returns true if this call loaded it.
// Throws Error(core_missing) if no candidate exists, Error(core_failed) if the
// kernel refuses it.
bool ensure_core(const std::string &cli, const std::string &patch_path);

}  // namespace kpctl
