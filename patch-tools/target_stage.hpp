// kp-build --kernel RELEASE: the stages for a target kernel that is not SRC's own build
// (issue 13). Today: resolve what RELEASE needs (target_kernel.hpp) and check SRC's version.
#pragma once

namespace kpb {

struct Options;

// Returns the exit status; throws Error like the other stages.
int run_for_release(const Options &opt);

} // namespace kpb
