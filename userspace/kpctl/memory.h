// Rolled-back patches (issue 16): the core's memory (/sys/kernel/kp/rolled_back, for as
// long as kp_core is loaded) and kpctl's copy on disk (survives reboots), both keyed on
// the GNU build ID of the patch module itself.  Where the disk copy is: paths.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kp::ctl {

struct RolledBack {
	std::string build_id; // the patch module's own build ID
	std::string name;     // its module name
	std::string why;      // fault type, function+offset, task, time
};

// The core's and the disk's entries, the core's first, each build ID once.
std::vector<RolledBack> rolled_back_patches();
std::optional<RolledBack> find_rolled_back(const std::string &build_id);

// Copies the core's entries that the disk lacks to the disk.  Returns false (and says
// why on stderr) when the file cannot be written.
bool save_rolled_back();

// Forgets @build_id in the core and on disk (kpctl load --force).
void forget_rolled_back(const std::string &build_id);

} // namespace kp::ctl
