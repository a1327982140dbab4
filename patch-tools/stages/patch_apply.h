// Applying the user's patches to the patched copy (never to the user's tree or the cache).
#pragma once
#include <string>

#include "patch_parse.h"

namespace kp::build {

class Log;

// Breaks the hard links of every file the patch touches, then applies it with patch(1)
// in `tree`. Throws Error (exit 1) naming the file and hunk that does not apply.
void apply_patch(const PatchInfo &patch, const std::string &tree, Log *log);

// Builds the "does not apply" message from patch(1)'s output.
std::string describe_patch_failure(const PatchInfo &patch, const std::string &patch_output);

} // namespace kp::build
