// Rolled-back patches (issue 16): the core's memory (/sys/kernel/kp/rolled_back, for as
// long as kp_core is loaded) and kpctl's copy on disk (survives reboots), both keyed on
// the GNU build ID of the patch module itself.  Where the disk copy is: paths.h.
// A rollback that a task other than root triggered is unconfirmed in the core (issue 25):
// it refuses nothing and never reaches the disk until root confirms it (kpctl confirm).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kp::ctl {

struct RolledBack {
	std::string build_id;  // the patch module's own build ID
	std::string name;      // its module name
	std::string why;       // fault type, function+offset, task, uid, time
	bool confirmed = true; // refuses the module (the disk holds confirmed ones only)
};

// The core's and the disk's entries, the core's first, each build ID once.
std::vector<RolledBack> rolled_back_patches();
std::optional<RolledBack> find_rolled_back(const std::string &build_id);

// Copies the core's confirmed entries that the disk lacks to the disk.  Returns false
// (and says why on stderr) when the file cannot be written.
bool save_rolled_back();

// Root confirms the core's unconfirmed rollback of @target (a patch name or a module build
// ID): the core refuses the module from now on, and the disk remembers it.  Returns the
// entry, nullopt when the core has none of that name or build ID.
std::optional<RolledBack> confirm_rolled_back(const std::string &target);

// Forgets @build_id in the core and on disk (kpctl load --force).
void forget_rolled_back(const std::string &build_id);

} // namespace kp::ctl
