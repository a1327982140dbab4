#include <algorithm>
#include <filesystem>
#include <iostream>

#include "commands/commands.h"
#include "kernel.h"
#include "memory.h"
#include "module_file.h"
#include "paths.h"
#include "render/json.h"
#include "render/text.h"
#include "sysfs.h"

namespace fs = std::filesystem;

namespace kp::ctl {

namespace {

// The .ko files in @dir, sorted; a missing default folder holds none.
std::vector<std::string> module_files(const std::string &dir, bool explicit_dir)
{
	std::error_code ec;
	if (explicit_dir && !fs::is_directory(dir, ec))
		throw Error(Exit::file_missing, "--dir " + dir +
		                                        " is not a directory; give the folder "
		                                        "holding installed patch modules");
	std::vector<std::string> files;
	for (const auto &e : fs::directory_iterator(dir, ec))
		if (e.path().extension() == ".ko")
			files.push_back(e.path().string());
	std::sort(files.begin(), files.end());
	return files;
}

InstalledPatch installed_patch(const std::string &file, const ListView &v)
{
	InstalledPatch i{file, std::nullopt, "", std::nullopt, false, false};
	try {
		i.info = read_module(file);
	} catch (const Error &e) {
		i.error = e.what();
		return i;
	}
	i.matches_running_kernel = matches_running_kernel(*i.info);
	i.loaded = std::any_of(v.loaded.begin(), v.loaded.end(),
	                       [&](const PatchState &p) { return p.name == i.info->name; });
	const std::string &id = i.info->build_id;
	i.rolled_back = !id.empty() && std::any_of(v.rolled_back.begin(), v.rolled_back.end(),
	                                           [&](const RolledBack &r) {
		                                           return r.confirmed && r.build_id == id;
	                                           });
	return i;
}

} // namespace

Exit cmd_list(const std::optional<std::string> &dir, bool json)
{
	ListView v;
	v.dir = dir.value_or(paths::installed_patches(running_release()));
	for (const auto &n : loaded_patch_names())
		if (auto p = read_patch(n))
			v.loaded.push_back(std::move(*p));
	auto files = module_files(v.dir, dir.has_value());
	save_rolled_back();
	v.rolled_back = rolled_back_patches();
	for (const auto &f : files)
		v.installed.push_back(installed_patch(f, v));
	if (json)
		std::cout << list_json(v).dump(2) << "\n";
	else
		print_list(std::cout, v);
	return Exit::ok;
}

} // namespace kp::ctl
