// The user's built tree as the target (no --kernel): SRC's vmlinux and modules are the
// running kernel's. Its original objects come from kp-build's cache (own/cache.h: one
// function-sections build per tree), its patched objects from a sparse copy of that build
// (own/build.h); the Kbuild dependency records say which objects a changed file reaches.
#pragma once
#include <memory>

#include "target.h"

namespace kp::build {

class Log;
class Progress;

// Reads SRC (kernel_info.h) and refuses another compiler than the one that built it.
std::unique_ptr<Target> open_own_target(const Options &opt, Log &log);

// --cache-only: the original build of SRC into the cache; returns the cache tree's path.
std::string build_own_cache(const Options &opt, Log &log, Progress &progress);

} // namespace kp::build
