#include <cerrno>
#include <cmath>
#include <iostream>

#include "canary.h"
#include "commands/commands.h"
#include "commands/wait.h"
#include "kmsg.h"
#include "loader.h"
#include "memory.h"
#include "module_fd.h"
#include "module_file.h"
#include "paths.h"
#include "sysfs.h"

namespace kp::ctl {

namespace {

std::string joined(const std::vector<std::string> &lines)
{
	std::string s;
	for (const auto &l : lines)
		s += (s.empty() ? "" : " | ") + l;
	return s;
}

// Removes the core again if this command loaded it and the patch did not make it in,
// so that a failed load leaves the system as it was.
class CoreGuard {
public:
	explicit CoreGuard(bool loaded_by_us) : ours_(loaded_by_us) {}
	~CoreGuard()
	{
		if (ours_ && !keep_ && loaded_patch_names().empty() &&
		    remove_module(core_module_name) != 0)
			std::cerr << "kpctl: note: could not remove the core module kp_core loaded "
			             "for this attempt\n";
	}
	CoreGuard(const CoreGuard &) = delete;
	CoreGuard &operator=(const CoreGuard &) = delete;
	void keep() { keep_ = true; }

private:
	bool ours_;
	bool keep_ = false;
};

// Removes the dependencies this command loaded if the patch did not make it in.
class DependencyGuard {
public:
	explicit DependencyGuard(std::vector<std::string> names) : names_(std::move(names)) {}
	~DependencyGuard()
	{
		if (!keep_ && !remove_dependencies(names_))
			std::cerr << "kpctl: note: could not remove every module loaded for this "
			             "attempt\n";
	}
	DependencyGuard(const DependencyGuard &) = delete;
	DependencyGuard &operator=(const DependencyGuard &) = delete;
	const std::vector<std::string> &names() const { return names_; }
	void keep() { keep_ = true; }

private:
	std::vector<std::string> names_;
	bool keep_ = false;
};

// Loads the module, waiting while another patch is in transition.  A refusal
// quotes the core's log lines of that attempt.
void insert(const LoadOptions &o, const ModuleFd &file, const std::string &name, unsigned timeout_s,
            Clock::time_point deadline, const std::vector<pid_t> &canary)
{
	for (;;) {
		if (auto other = wait_no_transition(name, deadline))
			throw Error(Exit::busy,
			            "patch " + *other + " is still in transition after " +
			                    std::to_string(static_cast<int>(o.timeout)) +
			                    " s; nothing was loaded; retry when kpctl status shows "
			                    "it idle");
		KmsgCursor log;
		if (!canary.empty())
			if (int e = arm_canary(name, canary); e != 0)
				throw Error(
				        Exit::load_failed,
				        errno_text("cannot arm the canary of patch " + name, e) +
				                "; nothing was loaded" +
				                (e == ESRCH ? " (a canary process exited)" : ""));
		int err = load_module(file, "transition_timeout=" + std::to_string(timeout_s));
		if (!canary.empty())
			disarm_canary(name); // consumed by the core if the patch registered
		auto core = core_messages(log.read_new(), name);
		if (err == 0)
			return;
		if (err == EEXIST)
			throw Error(Exit::already_loaded,
			            "patch " + name + " is already loaded; see kpctl status " +
			                    name);
		if (err == ECANCELED)
			throw Error(Exit::rolled_back,
			            "the core refused patch " + name +
			                    ": it was rolled back before" +
			                    (core.empty() ? "" : " (core: " + joined(core) + ")") +
			                    "; load it anyway with --force");
		if (err == EBUSY && patch_in_transition(name) && Clock::now() < deadline)
			continue; // another transition started meanwhile
		if (auto sig = signature_refusal(file.path(), err))
			throw Error(Exit::load_failed, *sig + "; nothing was patched");
		std::string why = core.empty() ? "" : " (core: " + joined(core) + ")";
		throw Error(
		        Exit::load_failed,
		        errno_text("the kernel refused patch " + name, err) + why +
		                "; nothing was patched; check the kernel log (dmesg) for details");
	}
}

// The enable outlived its timeout and stays pending (the core's on_timeout): the new
// code is live for every task already switched; say who has not switched.
void report_pending(const std::string &name, const PatchState &st, unsigned timeout_s)
{
	std::cout << "kpctl: patch " << name << " enabled for every task but " << st.pending_count
	          << ", which stayed inside functions it replaces past the " << timeout_s
	          << " s timeout: the transition stays pending (on timeout: pending); they "
	             "are sent fake signals and switch when they leave; see kpctl status "
	          << name << ", or kpctl unload " << name << " to give it up\n";
	for (const auto &t : st.pending)
		std::cout << "  " << t << "\n";
}

// A patch whose module was rolled back before is refused unless forced (issue 16).
void refuse_rolled_back(const ModuleInfo &m, bool force)
{
	if (m.build_id.empty())
		return;
	auto r = find_rolled_back(m.build_id);
	if (!r)
		return;
	if (!r->confirmed) {
		progress("loading " + m.name + ": its rollback (" + r->why +
		         ") was triggered by a task other than root and is not confirmed "
		         "(kpctl confirm " +
		         m.name + " would refuse it)");
		return;
	}
	if (force) {
		progress("loading " + m.name +
		         " although it was rolled back before (--force): " + r->why);
		forget_rolled_back(m.build_id);
		return;
	}
	throw Error(Exit::rolled_back,
	            "patch " + m.name + " (module build ID " + m.build_id +
	                    ") was rolled back before: " + r->why +
	                    "; nothing was loaded; fix and rebuild it, or load it anyway with "
	                    "--force");
}

// A replace patch went live (issue 27): the patches it replaced are disabled.  Once its
// probation is over the core lets them go: remove their modules, unless --keep-replaced.
// While it lasts they stay (a rollback returns to them); kpctl says so.  A module that
// cannot go is named; the load still stands.
void remove_replaced(const std::string &name, bool keep)
{
	auto st = read_patch(name);
	if (!st || st->replaced.empty())
		return;
	std::string names;
	for (const auto &r : st->replaced)
		names += (names.empty() ? "" : ", ") + r;
	if (keep) {
		std::cout
		        << "kpctl: patch " << name << " replaced " << names
		        << " (disabled, kept loaded: --keep-replaced; kpctl unload removes them)\n";
		return;
	}
	if (st->probation_left) {
		std::cout << "kpctl: patch " << name << " replaced " << names
		          << ": disabled, kept loaded until its probation ends in "
		          << st->probation_left
		          << " s (a rollback returns to them); kpctl unload them then\n";
		return;
	}
	std::string removed;
	for (const auto &r : st->replaced) {
		auto rs = read_patch(r);
		if (!rs || rs->replaced_by != name)
			continue; // unloaded meanwhile, or back in force
		if (rs->forced) {
			std::cerr << "kpctl: warning: replaced patch " << r
			          << " had a transition forced: its module can never be removed\n";
			continue;
		}
		auto until = deadline_after(5);
		int err;
		while ((err = remove_module(r)) == EAGAIN || err == EBUSY) {
			if (Clock::now() >= until)
				break;
			nap(until, 100);
		}
		if (err == 0 || err == ENOENT)
			removed += (removed.empty() ? "" : ", ") + r;
		else
			std::cerr << "kpctl: warning: "
			          << errno_text("cannot remove replaced patch " + r, err)
			          << "; it is disabled; retry with kpctl unload " << r << "\n";
	}
	std::cout << "kpctl: patch " << name << " replaced " << names
	          << (removed.empty() ? "" : "; removed " + removed) << "\n";
}

} // namespace

Exit cmd_load(const LoadOptions &o)
{
	require_root("load");
	if (!o.canary.empty() && !o.probation.check.empty())
		throw Error(Exit::usage, "--check runs once every task switched: with --canary, "
		                         "check the canary processes, then kpctl promote or abort");
	// Checked before anything is loaded; the core checks them again when it arms.
	std::vector<pid_t> canary = o.canary.empty() ? std::vector<pid_t>{} : canary_pids(o.canary);
	if (!o.probation.check.empty() && o.probation.seconds && *o.probation.seconds == 0)
		throw Error(Exit::usage, "--check runs during the probation: give --probation "
		                         "more than 0 seconds");
	// Opened once: the checks below and finit_module(2) use this descriptor.
	ModuleFd file = ModuleFd::open_trusted(o.file);
	ModuleInfo m = read_module(file);
	check_target(m);
	save_rolled_back();
	refuse_rolled_back(m, o.force);
	const std::string name = m.name;
	if (module_loaded(name) || read_patch(name))
		throw Error(Exit::already_loaded,
		            "patch " + name + " is already loaded; see kpctl status " + name +
		                    ", or kpctl unload " + name + " first to reload it");

	// The core reverses the transition by itself after timeout_s; kpctl follows it
	// until then, plus time for the reversal.
	const unsigned timeout_s = std::max(1u, static_cast<unsigned>(std::ceil(o.timeout)));
	auto deadline = deadline_after(o.timeout);
	bool core_loaded_here = ensure_core(o.core, o.file);
	if (core_loaded_here)
		progress("loaded the core module kp_core");
	CoreGuard core_guard(core_loaded_here);

	// The modules whose exports the patch calls, as modprobe would load them.
	DependencyGuard deps(load_dependencies(m));
	for (const auto &d : deps.names())
		progress("loaded module " + d + ", which patch " + name + " needs (depends=)");

	insert(o, file, name, timeout_s, deadline, canary);
	deps.keep();
	if (o.rollback_on) {
		// Faults before this write are judged by the records' policy alone: stricter.
		if (int err = write_rollback_on(name, *o.rollback_on); err != 0)
			std::cerr << "kpctl: warning: "
			          << errno_text("cannot set --rollback-on of patch " + name, err)
			          << "; its probation rolls back on the default faults only\n";
	}
	if (o.on_timeout) {
		// Before the timeout can expire (1 s at least); a later write still takes
		// effect: "reverse" reverses a transition pending past its timeout.
		if (int err = write_on_timeout(name, *o.on_timeout); err != 0)
			std::cerr << "kpctl: warning: "
			          << errno_text("cannot set --on-timeout of patch " + name, err)
			          << "; the patch's own policy applies\n";
	}
	auto st = follow_transition(name, deadline_after(timeout_s + 30.0));
	if (st && st->transition == "canary") {
		core_guard.keep();
		std::cout << "kpctl: patch " << name << " in canary: " << st->canary.size()
		          << " task(s) run its new code, every other task the old; end it with "
		             "kpctl promote "
		          << name << " or kpctl abort " << name << "\n";
		for (const auto &t : st->canary)
			std::cout << "  " << t << "\n";
		return run_probation(name, o.probation);
	}
	if (st && st->transition == "idle" && st->enabled) {
		std::cout << "kpctl: patch " << name << " enabled (" << st->funcs.size()
		          << " function(s))\n";
		core_guard.keep();
		Exit e = run_probation(name, o.probation);
		if (e == Exit::ok)
			remove_replaced(name, o.keep_replaced);
		return e;
	}
	if (st && st->stalled) {
		core_guard.keep();
		report_pending(name, *st, timeout_s);
		ProbationOptions probation = o.probation;
		if (!probation.check.empty()) {
			progress("--check not run: the probation starts when the transition "
			         "completes; run the check yourself then");
			probation.check.clear();
		}
		return run_probation(name, probation);
	}
	if (st && st->transition != "idle") {
		core_guard.keep();
		throw_unsettled(name, *st,
		                "patch " + name + " is still in transition " + st->transition +
		                        "; tasks not switched yet");
	}
	// Settled disabled: the transition timed out and reversed, or the core refused it.
	std::string undo;
	if (int err = remove_module(name); err != 0 && err != ENOENT) {
		core_guard.keep();
		undo = "; removing module " + name + " failed too (" +
		       errno_text("delete_module", err) + "), remove it with rmmod";
	}
	if (st && !st->blocked.empty()) {
		std::cerr << "kpctl: tasks that kept patch " << name << " from switching:\n";
		for (const auto &l : st->blocked)
			std::cerr << "  " << l << "\n";
		throw Error(Exit::busy,
		            "patch " + name +
		                    " not applied: tasks stayed inside functions it replaces for " +
		                    std::to_string(timeout_s) +
		                    " s, so the transition reversed; nothing is patched" + undo +
		                    "; retry later or with a longer --timeout");
	}
	std::string state = st ? "the core left it disabled"
	                       : "the core shows no patch for it in " + paths::kp_sysfs();
	throw Error(Exit::load_failed, "module " + name + " loaded but " + state +
	                                       ", so it was removed again" + undo +
	                                       "; check the kernel log (dmesg)");
}

} // namespace kp::ctl
