// kp-build --kernel RELEASE: the stages for a target kernel that is not SRC's own build
// (issue 13). Today: resolve what RELEASE needs (target_kernel.h) and check SRC's version.
#pragma once

namespace kp::build {

struct Options;

// Returns the exit status; throws Error like the other stages.
int run_for_release(const Options &opt);

} // namespace kp::build
