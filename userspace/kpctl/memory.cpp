#include "memory.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "errors.h"
#include "paths.h"
#include "support/atomic_file.h"
#include "sysfs.h"

namespace fs = std::filesystem;

namespace kp::ctl {

namespace {

// A line kpctl keeps (issue 25): a build ID in hex (an even number of digits, at most a
// SHA-512's), a module name, and a cause of printable ASCII; anything else (a damaged
// file, or a line a task name once forged before the core escaped it) is left out.
bool well_formed(const RolledBack &r)
{
	auto hex = [](unsigned char c) { return std::isxdigit(c) != 0; };
	auto name_char = [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; };
	auto printable = [](unsigned char c) { return c >= 0x20 && c < 0x7f; };
	return !r.build_id.empty() && r.build_id.size() % 2 == 0 && r.build_id.size() <= 128 &&
	       std::all_of(r.build_id.begin(), r.build_id.end(), hex) && !r.name.empty() &&
	       r.name.size() < 56 && std::all_of(r.name.begin(), r.name.end(), name_char) &&
	       !r.why.empty() && std::all_of(r.why.begin(), r.why.end(), printable);
}

// "build_id name why..." per line as the disk keeps them; the core writes "build_id name
// confirmed|unconfirmed why..." (@with_state).
std::vector<RolledBack> parse(std::istream &in, bool with_state)
{
	std::vector<RolledBack> out;
	for (std::string line; std::getline(in, line);) {
		std::istringstream l(line);
		RolledBack r;
		if (!(l >> r.build_id >> r.name))
			continue;
		if (with_state) {
			std::string state;
			if (!(l >> state) || (state != "confirmed" && state != "unconfirmed"))
				continue;
			r.confirmed = state == "confirmed";
		}
		std::getline(l >> std::ws, r.why);
		if (well_formed(r))
			out.push_back(std::move(r));
	}
	return out;
}

std::vector<RolledBack> read_core()
{
	std::ifstream in(paths::kp_sysfs() + "/rolled_back");
	return in ? parse(in, true) : std::vector<RolledBack>{};
}

std::vector<RolledBack> read_disk()
{
	std::ifstream in(paths::rolled_back_file());
	return in ? parse(in, false) : std::vector<RolledBack>{};
}

bool write_disk(const std::vector<RolledBack> &entries)
{
	std::error_code ec;
	fs::create_directories(fs::path(paths::rolled_back_file()).parent_path(), ec);
	auto r = support::write_atomically(
	        paths::rolled_back_file(), [&](const std::string &tmp) -> kp::Expected<void> {
		        std::ofstream out(tmp);
		        for (const auto &e : entries)
			        out << e.build_id << " " << e.name << " " << e.why << "\n";
		        out.close();
		        if (!out)
			        return kp::errno_error("writing " + tmp);
		        return {};
	        });
	if (!r) {
		std::cerr << "kpctl: warning: cannot record rolled-back patches in "
		          << paths::rolled_back_file() << ": " << r.error().message() << "\n";
		return false;
	}
	return true;
}

bool has(const std::vector<RolledBack> &v, const std::string &build_id)
{
	return std::any_of(v.begin(), v.end(),
	                   [&](const RolledBack &r) { return r.build_id == build_id; });
}

} // namespace

std::vector<RolledBack> rolled_back_patches()
{
	std::vector<RolledBack> all = read_core();
	for (auto &r : read_disk())
		if (!has(all, r.build_id))
			all.push_back(std::move(r));
	return all;
}

std::optional<RolledBack> find_rolled_back(const std::string &build_id)
{
	for (auto &r : rolled_back_patches())
		if (r.build_id == build_id)
			return r;
	return std::nullopt;
}

bool save_rolled_back()
{
	auto disk = read_disk();
	size_t before = disk.size();
	for (auto &r : read_core())
		if (r.confirmed && !has(disk, r.build_id))
			disk.push_back(std::move(r));
	return disk.size() == before || write_disk(disk);
}

std::optional<RolledBack> confirm_rolled_back(const std::string &target)
{
	for (auto &r : read_core()) {
		if (r.build_id != target && r.name != target)
			continue;
		std::ofstream core(paths::kp_sysfs() + "/rolled_back");
		core << "confirm " << r.build_id << "\n";
		core.close();
		if (!core)
			throw Error(Exit::internal, "cannot confirm the rollback of " + r.name +
			                                    " in " + paths::kp_sysfs() +
			                                    "/rolled_back");
		r.confirmed = true;
		auto disk = read_disk();
		if (!has(disk, r.build_id)) {
			disk.push_back(r);
			if (!write_disk(disk))
				throw Error(Exit::internal, "the core refuses " + r.name +
				                                    " now, but " +
				                                    paths::rolled_back_file() +
				                                    " could not be written: the "
				                                    "refusal ends at reboot");
		}
		return r;
	}
	return std::nullopt;
}

void forget_rolled_back(const std::string &build_id)
{
	std::ofstream core(paths::kp_sysfs() + "/rolled_back");
	if (core)
		core << "forget " << build_id << "\n"; // ENOENT when the core had none: fine
	auto disk = read_disk();
	auto end = std::remove_if(disk.begin(), disk.end(),
	                          [&](const RolledBack &r) { return r.build_id == build_id; });
	if (end != disk.end()) {
		disk.erase(end, disk.end());
		write_disk(disk);
	}
}

} // namespace kp::ctl
