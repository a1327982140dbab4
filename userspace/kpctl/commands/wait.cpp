#include "commands/wait.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "render/status_text.h"

namespace kp::ctl {

Clock::time_point deadline_after(double seconds)
{
	return Clock::now() + std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

double seconds_left(Clock::time_point deadline)
{
	return std::chrono::duration<double>(deadline - Clock::now()).count();
}

void nap(Clock::time_point deadline, int ms)
{
	auto until = std::min(deadline, Clock::now() + std::chrono::milliseconds(ms));
	std::this_thread::sleep_until(until);
}

std::optional<std::string> wait_no_transition(const std::string &except, Clock::time_point deadline)
{
	std::string said;
	for (;;) {
		auto busy = patch_in_transition(except);
		if (!busy || Clock::now() >= deadline)
			return busy;
		if (auto st = read_patch(*busy); st && st->transition == "canary")
			throw Error(Exit::busy,
			            "patch " + *busy + " is in canary (" +
			                    std::to_string(st->canary.size()) +
			                    " task(s) run its new code) and no other patch "
			                    "may change meanwhile; nothing was done; end the "
			                    "canary first with kpctl promote " +
			                    *busy + " or kpctl abort " + *busy);
		if (auto st = read_patch(*busy); st && st->stalled)
			throw Error(
			        Exit::busy,
			        "patch " + *busy + "'s transition is pending past its timeout, " +
			                std::to_string(st->pending_count) +
			                " task(s) not switched yet, and no other patch may "
			                "change meanwhile; nothing was done; see kpctl status " +
			                *busy + " (kpctl unload " + *busy + " gives it up)");
		if (*busy != said)
			progress("waiting for the transition of patch " + *busy +
			         " to end (one transition at a time)");
		said = *busy;
		nap(deadline, 100);
	}
}

std::optional<PatchState> follow_transition(const std::string &name, Clock::time_point deadline,
                                            bool reverses)
{
	std::string said;
	auto last_print = Clock::now();
	for (;;) {
		auto st = read_patch(name);
		if (!st || st->transition == "idle" || st->transition == "canary" || st->stalled ||
		    Clock::now() >= deadline)
			return st;
		std::string now = st->transition + ": " + std::to_string(st->pending_count) +
		                  " task(s) not switched yet" +
		                  (st->pending.empty()
		                           ? ""
		                           : " (" + st->pending.front() +
		                                     (st->pending.size() > 1 ? ", ..." : "") + ")");
		if (now != said || Clock::now() - last_print > std::chrono::seconds(5)) {
			progress("transition " + now + "; " +
			         std::to_string(st->transition_ms / 1000) + " s" +
			         (reverses
			                  ? " of " + std::to_string(st->timeout) + " s before it " +
			                            (timeout_outcome(*st) == "reverses"
			                                     ? "reverses"
			                                     : "stays pending")
			                  : " (an abort never reverses)"));
			said = now;
			last_print = Clock::now();
		}
		nap(deadline, 50);
	}
}

void throw_unsettled(const std::string &name, const PatchState &st, const std::string &heading)
{
	std::cerr << "kpctl: " << heading << ":\n";
	for (const auto &l : st.pending)
		std::cerr << "  " << l << "\n";
	throw Error(Exit::busy,
	            "patch " + name + " did not settle: its transition (now " + st.transition +
	                    ") is still waiting for the tasks above; see kpctl status " + name);
}

void progress(const std::string &msg)
{
	std::cout << "kpctl: " << msg << std::endl;
}

} // namespace kp::ctl
