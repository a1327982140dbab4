#include <algorithm>
#include <filesystem>
#include <iostream>

#include "commands/commands.h"
#include "json.h"
#include "kernel.h"
#include "memory.h"
#include "module_file.h"
#include "sysfs.h"

namespace fs = std::filesystem;

namespace kp::ctl {

Exit cmd_list(const std::optional<std::string> &dir_opt, bool json)
{
	std::string dir = dir_opt.value_or("/lib/modules/" + running_release() + "/kp");
	std::vector<PatchState> loaded;
	for (const auto &n : loaded_patch_names())
		if (auto p = read_patch(n))
			loaded.push_back(std::move(*p));

	struct Installed {
		std::string file;
		std::optional<ModuleInfo> info;
		std::string error;
	};
	std::vector<Installed> installed;
	std::error_code ec;
	if (dir_opt && !fs::is_directory(dir, ec))
		throw Error(Exit::file_missing, "--dir " + dir +
		                                        " is not a directory; give the folder "
		                                        "holding installed patch modules");
	std::vector<std::string> files;
	for (const auto &e : fs::directory_iterator(dir, ec))
		if (e.path().extension() == ".ko")
			files.push_back(e.path().string());
	std::sort(files.begin(), files.end());
	for (const auto &f : files) {
		Installed i{f, std::nullopt, ""};
		try {
			i.info = read_module(f);
		} catch (const Error &e) {
			i.error = e.what();
		}
		installed.push_back(std::move(i));
	}
	save_rolled_back();
	auto rolled = rolled_back_patches();
	auto rolled_back = [&](const std::string &build_id) {
		return !build_id.empty() &&
		       std::any_of(rolled.begin(), rolled.end(),
		                   [&](const RolledBack &r) { return r.build_id == build_id; });
	};
	auto is_loaded = [&](const std::string &name) {
		return std::any_of(loaded.begin(), loaded.end(),
		                   [&](const PatchState &p) { return p.name == name; });
	};

	if (json) {
		nlohmann::json j;
		j["dir"] = dir;
		j["loaded"] = nlohmann::json::array();
		for (const auto &p : loaded)
			j["loaded"].push_back(
			        {{"name", p.name},
			         {"enabled", p.enabled},
			         {"transition", p.transition},
			         {"functions", p.funcs.size()},
			         {"rolled_back", p.rolled_back.empty()
			                                 ? nlohmann::json(nullptr)
			                                 : nlohmann::json(p.rolled_back)}});
		j["installed"] = nlohmann::json::array();
		for (const auto &i : installed) {
			nlohmann::json e;
			e["file"] = i.file;
			if (i.info) {
				auto match = matches_running_kernel(*i.info);
				e["name"] = i.info->name;
				e["loaded"] = is_loaded(i.info->name);
				e["target_release"] = i.info->target_release;
				e["target_build_id"] = i.info->target_build_id;
				e["matches_running_kernel"] =
				        match ? nlohmann::json(*match) : nlohmann::json(nullptr);
				e["functions"] = i.info->funcs.size();
				e["rolled_back"] = rolled_back(i.info->build_id);
				e["error"] = nullptr;
			} else {
				e["error"] = i.error;
			}
			j["installed"].push_back(e);
		}
		j["rolled_back"] = rolled_back_json(rolled);
		std::cout << j.dump(2) << "\n";
		return Exit::ok;
	}
	std::cout << "loaded (" << loaded.size() << "):\n";
	for (const auto &p : loaded)
		std::cout << "  " << p.name << "  " << (p.enabled ? "enabled" : "disabled")
		          << "  transition " << p.transition
		          << (p.transition == "canary"
		                      ? " (" + std::to_string(p.canary.size()) + " task(s))"
		                      : "")
		          << "  " << p.funcs.size() << " function(s)"
		          << (p.rolled_back.empty() ? "" : "  ROLLED BACK") << "\n";
	std::cout << "installed in " << dir << " (" << installed.size() << "):\n";
	for (const auto &i : installed) {
		if (!i.info) {
			std::cout << "  " << i.file << "  unusable: " << i.error << "\n";
			continue;
		}
		auto match = matches_running_kernel(*i.info);
		std::cout << "  " << i.info->name << "  " << i.file << "  "
		          << (is_loaded(i.info->name) ? "loaded" : "not loaded") << "  "
		          << (!match   ? "target unknown"
		              : *match ? "for this kernel"
		                       : "for another kernel")
		          << (rolled_back(i.info->build_id) ? "  ROLLED BACK before" : "") << "\n";
	}
	std::cout << "rolled back (" << rolled.size() << "):\n";
	for (const auto &r : rolled)
		std::cout << "  " << r.name << "  module build ID " << r.build_id << "  " << r.why
		          << "\n";
	return Exit::ok;
}

} // namespace kp::ctl
