// kpctl's side of the canary (issue 16): `load --canary SELECTOR` runs a new patch for a
// few processes (and the tasks they create) first; `promote` switches every task, `abort`
// none.  The core's files: /sys/kernel/kp/canary (arm) and <patch>/canary (docs/kpctl.md).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "paths.h"

namespace kp::ctl {

inline constexpr size_t max_canary_pids = 64; // the core's limit

// The processes of the selectors, each "pid:PID" or "cgroup:PATH" (a cgroup v2 directory:
// the processes in its cgroup.procs now), several per argument separated by commas.
// Sorted, without duplicates.  Throws Error(usage) naming the selector and what is wrong
// (malformed, no such process, a kernel thread, not a cgroup v2 directory, empty cgroup,
// more than max_canary_pids processes).  @proc is /proc (paths.h; a test seam).
std::vector<pid_t> canary_pids(const std::vector<std::string> &selectors,
                               const std::string &proc = paths::proc());

// Arms a canary of patch @name for @pids: the core starts one when this process next
// loads that patch.  Returns 0 or the errno of the write.
int arm_canary(const std::string &name, const std::vector<pid_t> &pids);
// Disarms it (no-op if it was consumed).  Returns 0 or the errno of the write.
int disarm_canary(const std::string &name);
// Writes "promote" or "abort" to <patch>/canary.  Returns 0 or the errno of the write.
int write_canary(const std::string &name, const std::string &what);

// The loaded patch (other than @except) in canary, if any.
std::optional<std::string> patch_in_canary(const std::string &except = "");

} // namespace kp::ctl
