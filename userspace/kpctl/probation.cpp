#include "probation.h"

#include <iostream>
#include <sstream>

#include "commands/wait.h"
#include "memory.h"
#include "support/process.h"
#include "sysfs.h"

namespace kp::ctl {

namespace {

// The rollback is a normal transition: follow it, keep the memory on disk, report.
Exit report_rollback(const std::string &name)
{
	auto st = follow_transition(name, deadline_after(120));
	save_rolled_back();
	std::string why = st ? st->rolled_back : "";
	std::cerr << "kpctl: patch " << name << " was rolled back"
	          << (why.empty() ? "" : ": " + why) << "\n";
	if (st && (st->enabled || st->transition != "idle"))
		std::cerr << "kpctl: the rollback has not completed yet; see kpctl status " << name
		          << "\n";
	return Exit::rolled_back;
}

// Runs the check once, killed (with what it started) after @timeout seconds; empty
// when it passed, else why it failed.
std::string run_check(const std::string &cmd, double timeout)
{
	auto r = support::run_process({"/bin/sh", "-c", cmd}, {}, {}, timeout);
	if (!r)
		return "cannot run: " + r.error().message();
	if (r->timed_out) {
		std::ostringstream t;
		t << timeout;
		return "timed out after " + t.str() + " s";
	}
	if (r->status == 0)
		return "";
	return "exit status " + std::to_string(r->status);
}

} // namespace

Exit run_probation(const std::string &name, const ProbationOptions &o)
{
	if (o.seconds) {
		if (int err = write_probation(name, *o.seconds); err != 0)
			throw Error(Exit::load_failed,
			            errno_text("setting the probation of patch " + name, err) +
			                    "; the patch stays enabled, under the core's default "
			                    "probation; see kpctl status " +
			                    name);
	}
	auto st = read_patch(name);
	if (st && !st->rolled_back.empty())
		return report_rollback(name);
	unsigned left = st ? st->probation_left : 0;
	if (left)
		progress("patch " + name + " on probation for " + std::to_string(left) + " s");
	if (o.check.empty())
		return Exit::ok;
	std::ostringstream every;
	every << o.check_interval;
	std::ostringstream limit;
	limit << o.check_timeout;
	progress("checking `" + o.check + "` every " + every.str() + " s during the probation (" +
	         limit.str() + " s each at most)");
	for (;;) {
		std::string failed = run_check(o.check, o.check_timeout);
		if (!failed.empty()) {
			std::string reason = "`" + o.check + "` " + failed;
			std::cerr << "kpctl: check " << reason << "; rolling patch " << name
			          << " back\n";
			if (int err = write_rollback(name, reason); err != 0)
				throw Error(Exit::unload_failed,
				            errno_text("asking the core to roll " + name + " back",
				                       err) +
				                    "; unload it with kpctl unload " + name);
			return report_rollback(name);
		}
		st = read_patch(name);
		if (!st)
			throw Error(Exit::unknown_patch,
			            "patch " + name + " disappeared during its probation");
		if (!st->rolled_back.empty())
			return report_rollback(name);
		if (!st->probation_left) {
			progress("patch " + name + " passed its probation");
			return Exit::ok;
		}
		nap(deadline_after(o.check_interval), static_cast<int>(o.check_interval * 1000));
	}
}

} // namespace kp::ctl
