#include <algorithm>
#include <filesystem>
#include <iostream>

#include "commands/commands.h"
#include "loader.h"
#include "memory.h"
#include "paths.h"
#include "render/json.h"
#include "render/text.h"
#include "sysfs.h"

namespace kp::ctl {

namespace {

// Every task on the system (threads included), as /proc lists them; 0 when unreadable.
unsigned count_tasks()
{
	unsigned n = 0;
	std::error_code ec;
	for (const auto &proc : std::filesystem::directory_iterator(paths::proc(), ec)) {
		std::string pid = proc.path().filename().string();
		if (pid.find_first_not_of("0123456789") != std::string::npos)
			continue;
		std::error_code ec2;
		for (std::filesystem::directory_iterator t(proc.path() / "task", ec2), end;
		     !ec2 && t != end; t.increment(ec2))
			++n;
	}
	return n;
}

bool in_transition(const PatchState &p)
{
	return p.transition != "idle" && p.transition != "canary";
}

} // namespace

Exit cmd_status(const std::optional<std::string> &name, bool json)
{
	StatusView v;
	v.one_patch = name.has_value();
	if (name) {
		auto p = read_patch(normalize_module_name(*name));
		if (!p)
			throw Error(Exit::unknown_patch,
			            "no kp patch named " + *name +
			                    " is loaded; see kpctl list for the loaded and "
			                    "installed patches");
		v.patches.push_back(std::move(*p));
	} else {
		for (const auto &n : loaded_patch_names())
			if (auto p = read_patch(n))
				v.patches.push_back(std::move(*p));
	}
	v.core_loaded = module_loaded(core_module_name) || core_sysfs_present();
	save_rolled_back();
	v.rolled_back = rolled_back_patches();
	if (json) {
		std::cout << status_json(v).dump(2) << "\n";
		return Exit::ok;
	}
	if (std::any_of(v.patches.begin(), v.patches.end(), in_transition))
		v.total_tasks = count_tasks();
	print_status(std::cout, v);
	return Exit::ok;
}

} // namespace kp::ctl
