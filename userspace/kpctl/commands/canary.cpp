// kpctl promote / abort: end the canary of a patch loaded with --canary (issue 16).
#include "canary.h"

#include <cerrno>
#include <cmath>
#include <iostream>

#include "commands/commands.h"
#include "commands/wait.h"
#include "loader.h"
#include "module_file.h"
#include "sysfs.h"

namespace kp::ctl {

namespace {

// Tells the core to @what ("promote" or "abort") the canary of @o.name and follows the
// transition that ends it.  Returns the state it settled in.
PatchState end_canary(const CanaryOptions &o, const std::string &what)
{
	const std::string name = normalize_module_name(o.name);
	auto st = read_patch(name);
	if (!st)
		throw Error(Exit::unknown_patch,
		            "no kp patch named " + o.name + " is loaded; see kpctl status");
	if (st->transition != "canary")
		throw Error(Exit::usage,
		            "patch " + name + " is not in canary (" +
		                    (st->transition == "idle"
		                             ? std::string(st->enabled ? "enabled" : "disabled")
		                             : "in transition " + st->transition) +
		                    "); nothing done; see kpctl status " + name);
	const unsigned timeout_s = std::max(1u, static_cast<unsigned>(std::ceil(o.timeout)));
	if (int err = write_timeout(name, timeout_s); err != 0)
		throw Error(Exit::internal,
		            errno_text("cannot set the transition timeout of patch " + name, err));
	if (int err = write_canary(name, what); err != 0)
		throw Error(
		        what == "promote" ? Exit::load_failed : Exit::unload_failed,
		        errno_text("the core refused to " + what + " the canary of patch " + name,
		                   err) +
		                "; check the kernel log (dmesg)");
	st = follow_transition(name, deadline_after(timeout_s + 30.0), what == "promote");
	if (!st)
		throw Error(Exit::internal, "patch " + name + " vanished during the " + what);
	if (st->transition != "idle") {
		std::cerr << "kpctl: tasks not switched yet:\n";
		for (const auto &l : st->pending)
			std::cerr << "  " << l << "\n";
		throw Error(Exit::busy, "patch " + name + " did not settle after the " + what +
		                                ": its transition (now " + st->transition +
		                                ") waits for the tasks above; see kpctl status " +
		                                name);
	}
	return *st;
}

} // namespace

Exit cmd_promote(const CanaryOptions &o)
{
	require_root("promote");
	PatchState st = end_canary(o, "promote");
	if (!st.enabled) {
		for (const auto &l : st.blocked)
			std::cerr << "  " << l << "\n";
		throw Error(Exit::busy,
		            "patch " + st.name +
		                    " not promoted: tasks stayed inside the functions it "
		                    "replaces, so the transition reversed and nothing is "
		                    "patched now; kpctl unload " +
		                    st.name + ", then load it again");
	}
	std::cout << "kpctl: patch " << st.name << " promoted: every task runs its new code ("
	          << st.funcs.size() << " function(s))\n";
	return Exit::ok;
}

Exit cmd_abort(const CanaryOptions &o)
{
	require_root("abort");
	PatchState st = end_canary(o, "abort");
	if (int err = remove_module(st.name); err != 0 && err != ENOENT)
		throw Error(Exit::unload_failed,
		            "canary of patch " + st.name + " aborted, no task runs its code, but " +
		                    errno_text("removing its module failed", err) +
		                    "; remove it with kpctl unload " + st.name);
	std::cout << "kpctl: canary of patch " << st.name
	          << " aborted: no task runs its code; module removed\n";
	return Exit::ok;
}

} // namespace kp::ctl
