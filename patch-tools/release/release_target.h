// --kernel RELEASE: a target kernel that is not SRC's own build (issue 13). Its files are
// resolved (release/target_kernel.h: the overrides, the installed files, Debian's packages),
// SRC is prepared for it (release/tree_prepare.h: the release's config, no full build) and
// the patch's objects are compiled there before and after the patch.
#pragma once
#include <memory>
#include <vector>

#include "target.h"

namespace kp::build {

class Progress;

// One target per --kernel, every one resolved before any is built. With --resolve-only,
// prints what was found for each release and returns none.
std::vector<std::unique_ptr<Target>> open_release_targets(const Options &opt, Progress &progress);

// Bounds --kernel's per-release cache (prepared trees, extracted sources; cache_evict.h)
// after a run: the ones it used are the most recently used, so they are kept.
void evict_release_entries(const Options &opt, Progress &progress);

} // namespace kp::build
