// Shared by load and unload: deadlines, waiting for a patch to settle, and reporting
// the tasks that blocked a transition.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "errors.h"
#include "sysfs.h"

namespace kp::ctl {

using Clock = std::chrono::steady_clock;

Clock::time_point deadline_after(double seconds);
double seconds_left(Clock::time_point deadline);
// Sleeps @ms, but not past @deadline.
void nap(Clock::time_point deadline, int ms);

// Waits until no patch but @except is in transition (one transition at a time).
// Returns the name of the one still in transition at the deadline, if any.  Throws
// Error(busy) at once when that patch is in canary: a canary ends only when told; or
// stalled: its transition waits for stragglers past its timeout, for as long as they stay.
std::optional<std::string> wait_no_transition(const std::string &except,
                                              Clock::time_point deadline);

// Follows the transition of patch @name until it is idle, in canary, stalled (past its
// timeout and pending: the core's on_timeout pending) or the deadline,
// printing progress (direction, elapsed time, tasks not switched yet) when it
// changes.  Returns the last state read (nullopt if the patch vanished).
// @reverses: false for a transition the core never reverses (a canary's abort).
std::optional<PatchState> follow_transition(const std::string &name, Clock::time_point deadline,
                                            bool reverses = true);

// Throws Error(busy) for patch @name whose transition has not settled, after listing
// on stderr, under @heading, the tasks not switched yet.
[[noreturn]] void throw_unsettled(const std::string &name, const PatchState &st,
                                  const std::string &heading);

// Prints "kpctl: <msg>" to stdout (progress; errors alone go to stderr).
void progress(const std::string &msg);

} // namespace kp::ctl
