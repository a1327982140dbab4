#include <filesystem>
#include <iostream>

#include "commands/commands.h"
#include "commands/status_text.h"
#include "json.h"
#include "loader.h"
#include "memory.h"
#include "sysfs.h"

namespace kp::ctl {

namespace {

// Every task on the system (threads included), as /proc lists them; 0 when unreadable.
unsigned count_tasks()
{
	unsigned n = 0;
	std::error_code ec;
	for (const auto &proc : std::filesystem::directory_iterator("/proc", ec)) {
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

void print_patch(const PatchState &p)
{
	bool moving = p.transition != "idle" && p.transition != "canary";
	std::cout << status_headline(p, moving ? count_tasks() : 0) << "\n";
	if (moving) {
		std::cout << "  " << p.transition << " for " << p.transition_ms
		          << " ms, reverses after " << p.timeout << " s"
		          << (p.pending.empty() ? "\n" : "; not switched yet:\n");
		for (const auto &t : p.pending)
			std::cout << "    " << t << "\n";
	}
	if (p.transition == "canary") {
		std::cout << "  canary tasks (and the tasks they create) on the new code:\n";
		for (const auto &t : p.canary)
			std::cout << "    " << t << "\n";
	}
	if (!p.rolled_back.empty())
		std::cout << "  ROLLED BACK by probation: " << p.rolled_back << "\n";
	else if (p.probation_left)
		std::cout << "  on probation: " << p.probation_left << " s left\n";
	std::cout << "  build ID " << p.build_id << "\n";
	std::cout << "  functions (" << p.funcs.size() << "):\n";
	for (const auto &f : p.funcs)
		std::cout << "    " << f.object << " " << f.function << "," << f.sympos << "  old "
		          << f.old_addr << "  new " << f.new_addr << "\n";
	if (!p.values.empty()) {
		std::cout << "  transferred values (" << p.values.size() << "):\n";
		for (const auto &v : p.values)
			std::cout << "    " << v << "\n";
	}
	if (!p.callbacks.empty() || !p.states.empty() || !p.shadow_ids.empty()) {
		std::cout << "  callbacks (" << p.callbacks.size() << "):\n";
		for (const auto &c : p.callbacks)
			std::cout << "    " << c << "\n";
		std::cout << "  states (" << p.states.size() << "):\n";
		for (const auto &s : p.states)
			std::cout << "    id " << s.substr(0, s.find(' ')) << " version "
			          << s.substr(s.find(' ') + 1) << "\n";
		std::cout << "  shadow variable ids (" << p.shadow_ids.size() << "):\n";
		for (const auto &s : p.shadow_ids)
			std::cout << "    " << s << "\n";
	}
	if (!p.blocked.empty()) {
		std::cout << "  blocked by (last transition that timed out and reversed):\n";
		for (const auto &b : p.blocked)
			std::cout << "    " << b << "\n";
	}
}

} // namespace

Exit cmd_status(const std::optional<std::string> &name, bool json)
{
	std::vector<PatchState> patches;
	if (name) {
		auto p = read_patch(normalize_module_name(*name));
		if (!p)
			throw Error(Exit::unknown_patch,
			            "no kp patch named " + *name +
			                    " is loaded; see kpctl list for the loaded and "
			                    "installed patches");
		patches.push_back(std::move(*p));
	} else {
		for (const auto &n : loaded_patch_names())
			if (auto p = read_patch(n))
				patches.push_back(std::move(*p));
	}
	bool core = module_loaded(core_module_name) || core_sysfs_present();
	save_rolled_back();
	auto rolled = rolled_back_patches();
	if (json) {
		nlohmann::json j;
		j["core_loaded"] = core;
		j["patches"] = nlohmann::json::array();
		for (const auto &p : patches)
			j["patches"].push_back(patch_json(p));
		j["rolled_back"] = rolled_back_json(rolled);
		std::cout << j.dump(2) << "\n";
		return Exit::ok;
	}
	if (patches.empty())
		std::cout << (core ? "no kp patches loaded\n"
		                   : "no kp patches loaded (core module kp_core not loaded)\n");
	for (const auto &p : patches)
		print_patch(p);
	if (!name && !rolled.empty()) {
		std::cout << "rolled back (refused unless loaded with --force):\n";
		for (const auto &r : rolled)
			std::cout << "  " << r.name << " (module build ID " << r.build_id
			          << "): " << r.why << "\n";
	}
	return Exit::ok;
}

} // namespace kp::ctl
