// JSON forms of kpctl's reports (field names documented in docs/kpctl.md).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>

#include "render/views.h"

namespace kp::ctl {

nlohmann::json pointer_json(const Pointer &p);
// @matches: whether the module's target is the running kernel (null if unknown).
nlohmann::json module_json(const ModuleInfo &m, std::optional<bool> matches);
nlohmann::json patch_json(const PatchState &p);
nlohmann::json rolled_back_json(const std::vector<RolledBack> &v);

// The documents `kpctl status --json`, `list --json` and `info --json` print.
nlohmann::json status_json(const StatusView &v);
nlohmann::json list_json(const ListView &v);
nlohmann::json info_json(const InfoView &v);

} // namespace kp::ctl
