// The user's built tree as the target (no --kernel): SRC's vmlinux and modules are the
// running kernel's. Its original objects are compiled in kp-build's cache (own/cache.h: a
// copy of the built tree per tree, each object compiled once, when a patch first reaches
// it), its patched objects in a sparse copy of that tree (own/build.h); SRC's Kbuild
// dependency records say which objects a changed file reaches.
#pragma once
#include <memory>

#include "target.h"

namespace kp::build {

class Log;
class Progress;

// Reads SRC (kernel_info.h) and refuses another compiler than the one that built it.
std::unique_ptr<Target> open_own_target(const Options &opt, Log &log);

// --cache-only: SRC's entry in the cache, and the original objects of --prebuild compiled
// there; returns the cache tree's path.
std::string build_own_cache(const Options &opt, Log &log, Progress &progress);

} // namespace kp::build
