// The core module's sysfs interface, /sys/kernel/kp (docs/architecture.md), and
// /sys/module for module presence.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kp::ctl {

struct FuncState {
	std::string object, function;
	unsigned long sympos = 0;
	std::string old_addr, new_addr; // as the core prints them
};

struct PatchState {
	std::string name;
	bool enabled = false;
	std::string transition;               // idle | enabling | disabling | canary
	unsigned long long transition_ms = 0; // elapsed, while in transition
	unsigned pending_count = 0;           // tasks not switched yet
	std::vector<std::string> pending;     // "pid comm function+off/size" of each
	unsigned timeout = 0;                 // seconds before a transition reverses
	bool forced = false;                  // a transition was forced: module pinned
	std::vector<std::string> blocked;     // who held the last reversed transition
	std::string build_id;
	unsigned probation_left = 0;     // seconds of probation left (0: none)
	std::string rolled_back;         // why probation rolled it back, empty if it did not
	std::string rollback_on;         // "warn,stack": what rolls it back besides the default
	std::string on_timeout;          // pending | reverse: an enable past its timeout
	bool stalled = false;            // past its timeout, pending: stragglers hold it
	std::vector<std::string> canary; // "pid comm" of each live canary task (issue 16)
	// Replace (issue 27).
	bool replace = false;              // replaces the enabled patches of its set
	std::string set;                   // its replace set; empty: the default set
	std::vector<std::string> replaced; // the patches it replaced
	std::string replaced_by;           // the patch that replaced it (it is disabled)
	std::vector<FuncState> funcs;      // sorted by object, function, sympos
	// State transfer (issue 15), as the core prints them.
	std::vector<std::string> callbacks;  // "<object> <kind>..."
	std::vector<std::string> states;     // "<id> <version>"
	std::vector<std::string> shadow_ids; // "<id>[ declared]"
	std::vector<std::string> values;     // "<object> <variable>,<sympos> <size> <state>"
};

bool core_sysfs_present();
std::vector<std::string> loaded_patch_names(); // sorted
std::optional<PatchState> read_patch(const std::string &name);

// Writes @value to <sysfs>/kernel/kp/@rel.  Returns 0 or the errno of the write.
int write_kp_file(const std::string &rel, const std::string &value);
// Writes "0" or "1" to <patch>/enabled.  Returns 0 or the errno of the write.
int write_enabled(const std::string &name, bool on);
// Writes @seconds to <patch>/timeout.  Returns 0 or the errno of the write.
int write_timeout(const std::string &name, unsigned seconds);

// Writes @seconds to <patch>/probation.  Returns 0 or the errno of the write.
int write_probation(const std::string &name, unsigned seconds);
// Writes @reason to <patch>/rollback: the core rolls the patch back.
int write_rollback(const std::string &name, const std::string &reason);
// Writes @kinds ("warn,stack") to <patch>/rollback_on: added to the patch's policy.
int write_rollback_on(const std::string &name, const std::string &kinds);
// Writes @mode (pending, reverse) to <patch>/on_timeout.
int write_on_timeout(const std::string &name, const std::string &mode);

// The loaded patch (other than @except) whose transition is in progress, if any.
std::optional<std::string> patch_in_transition(const std::string &except = "");

// A loadable module of that name is loaded (<sysfs>/module/NAME/initstate exists).
bool module_loaded(const std::string &name);
// Its initstate ("live", "coming", "going"), empty if not loaded.
std::string module_initstate(const std::string &name);

} // namespace kp::ctl
