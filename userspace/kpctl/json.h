// JSON forms of kpctl's reports (field names documented in docs/kpctl.md).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>

#include "memory.h"
#include "module_file.h"
#include "sysfs.h"

namespace kp::ctl {

nlohmann::json pointer_json(const Pointer &p);
// @matches: whether the module's target is the running kernel (null if unknown).
nlohmann::json module_json(const ModuleInfo &m, std::optional<bool> matches);
nlohmann::json patch_json(const PatchState &p);
nlohmann::json rolled_back_json(const std::vector<RolledBack> &v);

} // namespace kp::ctl
