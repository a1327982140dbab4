// The human-readable text of `kpctl status`: the first line leads with the state a person
// cares about (enabled, disabled, or the transition in progress and who holds it).
#pragma once

#include <string>

#include "sysfs.h"

namespace kp::ctl {

// "kp_x: enabled", "kp_x: disabled", or during a transition
// "kp_x: enabling, 1 of 537 tasks not switched yet (cat 149 in pipe_read), reverses in 57 s".
// `total_tasks` is the number of tasks on the system (0: unknown, the "of N" is left out).
std::string status_headline(const PatchState &p, unsigned total_tasks);

// One line of <patch>/pending_tasks ("149 cat pipe_read+0x12/0x300 [mod]") as a person reads
// it: "cat 149 in pipe_read"; the line itself when it has another shape.
std::string describe_pending_task(const std::string &line);

// What the transition of @p does when its timeout expires: "reverses", or "stays pending"
// (an enable whose on_timeout is pending: the core keeps the new code live for every
// task already switched and waits for the stragglers).
std::string timeout_outcome(const PatchState &p);

} // namespace kp::ctl
