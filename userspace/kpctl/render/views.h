// What kpctl's reporting commands gather before anything is printed: `status`, `list` and
// `info` each fill one of these values, and a renderer (text.h or json.h) prints it.
// Nothing here reads the system; the commands (commands/) do.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "memory.h"
#include "module_file.h"
#include "sysfs.h"

namespace kp::ctl {

// `kpctl status [NAME]`.
struct StatusView {
	bool core_loaded = false;
	bool one_patch = false; // NAME given: the rolled-back list is left out of the text
	std::vector<PatchState> patches;
	std::vector<RolledBack> rolled_back;
	unsigned total_tasks = 0; // tasks on the system during a transition (0: unknown)
};

// One .ko file in the folder of installed patches.
struct InstalledPatch {
	std::string file;
	std::optional<ModuleInfo> info; // nullopt: unreadable, see error
	std::string error;
	std::optional<bool> matches_running_kernel; // null when unknown
	bool loaded = false;
	bool rolled_back = false;
};

// `kpctl list`.
struct ListView {
	std::string dir;
	std::vector<PatchState> loaded;
	std::vector<InstalledPatch> installed;
	std::vector<RolledBack> rolled_back;
};

// `kpctl info FILE`.
struct InfoView {
	ModuleInfo module;
	std::optional<bool> matches_running_kernel; // null when unknown
};

} // namespace kp::ctl
