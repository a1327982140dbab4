#include <cerrno>
#include <cmath>
#include <iostream>

#include "commands/commands.h"
#include "commands/wait.h"
#include "loader.h"
#include "module_file.h"
#include "paths.h"
#include "sysfs.h"

namespace kp::ctl {

namespace {

bool looks_like_file(const std::string &t)
{
	return t.find('/') != std::string::npos ||
	       (t.size() > 3 && t.compare(t.size() - 3, 3, ".ko") == 0);
}

// Switches the patch off: the core disables it at once or task by task, and
// reverses by itself after timeout_s.  Returns when it is disabled.
void disable(const std::string &name, unsigned timeout_s, Clock::time_point deadline)
{
	for (;;) {
		if (auto other = wait_no_transition(name, deadline))
			throw Error(Exit::busy, "patch " + *other +
			                                " is still in transition; patch " + name +
			                                " is still in force; retry when kpctl "
			                                "status shows it idle");
		if (int err = write_timeout(name, timeout_s); err != 0 && err != ENOENT)
			throw Error(Exit::unload_failed,
			            errno_text("cannot set the transition timeout of patch " + name,
			                       err));
		int err = write_enabled(name, false);
		if (err == 0)
			break;
		if (err == ENOENT)
			return; // gone already
		if (err == EBUSY && patch_in_transition(name) && Clock::now() < deadline)
			continue;
		throw Error(Exit::unload_failed,
		            errno_text("cannot disable patch " + name, err) +
		                    "; the patch is still in force; check the kernel log (dmesg)");
	}
	auto st = follow_transition(name, deadline_after(timeout_s + 30.0));
	if (!st || (st->transition == "idle" && !st->enabled))
		return;
	if (st->transition != "idle")
		throw_unsettled(name, *st, "tasks not switched yet");
	std::cerr << "kpctl: tasks that kept patch " << name << " from switching off:\n";
	for (const auto &l : st->blocked)
		std::cerr << "  " << l << "\n";
	throw Error(
	        Exit::busy,
	        "patch " + name + " is still in force: tasks stayed inside its functions for " +
	                std::to_string(timeout_s) +
	                " s, so the transition reversed; retry later or with a longer --timeout");
}

} // namespace

Exit cmd_unload(const UnloadOptions &o)
{
	require_root("unload");
	std::string name = looks_like_file(o.target) ? read_module(o.target).name
	                                             : normalize_module_name(o.target);

	auto st = read_patch(name);
	if (!st) {
		if (module_loaded(name))
			throw Error(Exit::not_kp_patch,
			            "module " + name +
			                    " is loaded but the kp core does not know it as a "
			                    "patch; it is not a kp patch, remove it with rmmod");
		throw Error(Exit::unknown_patch,
		            "no kp patch named " + name +
		                    " is loaded; see kpctl list for the loaded patches");
	}
	if (st->forced)
		throw Error(Exit::unload_failed,
		            "patch " + name +
		                    " had a transition forced: its module can never be removed; "
		                    "disable it with echo 0 > " +
		                    paths::kp_sysfs() + "/" + name + "/enabled");

	if (!st->replaced_by.empty()) {
		auto by = read_patch(st->replaced_by);
		if (by && by->enabled && by->probation_left)
			throw Error(
			        Exit::busy,
			        "patch " + name + " was replaced by " + st->replaced_by +
			                ", which keeps it for a rollback until its probation ends "
			                "in " +
			                std::to_string(by->probation_left) +
			                " s; unload it then, or end the probation first: echo 0 "
			                "> " +
			                paths::kp_sysfs() + "/" + st->replaced_by + "/probation");
	}
	const unsigned timeout_s = std::max(1u, static_cast<unsigned>(std::ceil(o.timeout)));
	auto deadline = deadline_after(o.timeout);
	if (st->enabled || st->transition != "idle")
		disable(name, timeout_s, deadline);

	auto remove_deadline = std::max(deadline, deadline_after(5));
	for (;;) {
		int err = remove_module(name);
		if (err == 0 || err == ENOENT)
			break;
		if ((err != EAGAIN && err != EBUSY) || Clock::now() >= remove_deadline)
			throw Error(
			        Exit::unload_failed,
			        errno_text("patch " + name +
			                           " is disabled but the module cannot be removed",
			                   err) +
			                "; retry kpctl unload " + name + " later");
		nap(remove_deadline, 100);
	}
	if (!st->replaced_by.empty())
		std::cout << "kpctl: patch " << name << " (replaced by " << st->replaced_by
		          << ") removed\n";
	else
		std::cout << "kpctl: patch " << name << " disabled and removed\n";
	return Exit::ok;
}

} // namespace kp::ctl
