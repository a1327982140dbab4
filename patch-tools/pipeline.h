// kp-build's one pipeline (pipeline.cpp run()), the same stages for every target
// (target.h: the user's built tree, own/, or a release, release/):
//   parse -> original build -> target objects -> patched build (before/after)
//   -> run-pre (check against the image) -> diff -> link -> module check -> install.
// Stages take and return values; errors are kp::Failure (common/error.h) with a kind that
// main.cpp alone maps to an exit code.
#pragma once
#include <string>

#include "options.h"

namespace kp::build {

// What main needs to know of a run that failed.
struct RunReport {
	std::string log; // the log of the target that was being built; empty before any
};

// Builds what @options ask for; throws kp::Failure.
void run(const Options &options, RunReport &report);

} // namespace kp::build
