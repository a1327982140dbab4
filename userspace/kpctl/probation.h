// kpctl load's probation (issue 16): the window the core watches a new patch for faults
// (/sys/kernel/kp/<patch>/probation), and health checks run from user space during it.
#pragma once

#include <optional>
#include <string>

#include "errors.h"

namespace kp::ctl {

struct ProbationOptions {
	std::optional<unsigned> seconds; // --probation; nullopt: the core's default
	std::string check;               // --check CMD; empty: none
	double check_interval = 1;       // --check-interval
	double check_timeout = 10;       // --check-timeout: a run still going then has failed
};

// After patch @name switched on: sets its window and, with a check, runs the check
// every interval until the window ends.  A failing check makes the core roll the
// patch back.  Returns ok, or rolled_back when the patch was rolled back meanwhile
// (by the check or by a fault the core pinned on it).
Exit run_probation(const std::string &name, const ProbationOptions &o);

} // namespace kp::ctl
