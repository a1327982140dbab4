// The patches installed for boot (kpctl install, uninstall, list --installed, load --all;
// issue 26), kept per kernel release in kpctl's state folder (paths::installed_dir):
//
//   <state dir>/RELEASE/order            patch names, one a line, first loaded first
//   <state dir>/RELEASE/NAME/NAME.ko     the patch module
//   <state dir>/RELEASE/NAME/kp_core.ko  the core module it was built with
//
// Each patch keeps its own kp_core.ko (the one kp-build wrote beside it), so patches built
// by different kp versions never overwrite each other's core; `load --all` loads the core
// of the first patch when no core is loaded, as `kpctl load --core` would.  Identical
// cores of one release are one file (hard links).  Every change
// is written beside its final name and renamed into place (a patch folder is swapped in
// with one renameat2(RENAME_EXCHANGE)), so an interrupted install leaves the old state or
// the new one, never a half-written patch.
#pragma once

#include <string>
#include <vector>

namespace kp::ctl {

class ModuleFd;
struct ModuleInfo;

namespace installed {

struct Patch {
	std::string name;
	std::string dir;    // <release dir>/NAME
	std::string module; // <dir>/NAME.ko
	std::string core;   // <dir>/kp_core.ko
};

struct Release {
	std::string release;
	std::string dir;                   // <state dir>/RELEASE
	std::string order;                 // <dir>/order
	std::vector<Patch> patches;        // complete ones, in load order
	std::vector<std::string> problems; // each names the file and what is wrong with it
};

// A module name as the kernel takes it: [A-Za-z0-9_], 1..55 characters.
bool valid_name(const std::string &name);

// Reads RELEASE's folder; a missing folder has no patches.  Damage (an order line that is
// no module name, a listed patch whose files are missing, a patch folder the order does
// not list, an unreadable order file) is reported in `problems`, each naming its file,
// and the rest is read.
Release read_release(const std::string &release);

enum class Outcome { installed, unchanged, replaced };

// Installs the module read from @module (its records @m) with the core from @core for
// @release, appending its name to the order unless it is listed already (a replaced patch
// keeps its place).  Identical files already installed: unchanged, nothing written.
// Throws Error(bad_state) when the patch's place is taken by something that is not a
// patch folder, Error(internal) when writing fails (the previous state is kept).
Outcome install(const ModuleFd &module, const ModuleInfo &m, const ModuleFd &core,
                const std::string &release);

// Removes patch @name of @release: its order line(s) first, then its folder.  Returns
// false when neither exists.
bool uninstall(const std::string &release, const std::string &name);

} // namespace installed
} // namespace kp::ctl
