// The diffgen pipeline: load -> correlate -> compare -> select -> special sections ->
// write (-> explain).  Library entry point used by the CLI and the tests.
#pragma once
#include <string>
#include <vector>

#include "options.h"

namespace kp::diffgen {

enum ExitCode { kChanged = 0, kError = 1, kUnsupported = 2, kNoChange = 3 };

struct Result {
	ExitCode code = kError;
	std::vector<std::string> messages;    // errors / refusals / notes, one per line
	std::vector<std::string> replaced;    // functions with a kp_func_rec
	std::vector<std::string> added;       // new functions
	std::vector<std::string> transferred; // KP_TRANSFER_VALUE variables (kp_values)
	// Options::anchor: "name,sympos = anchor+delta" per anchored symbol, and the
	// relocations rewritten against anchors.
	std::vector<std::string> anchored;
	size_t anchored_relocations = 0;
	std::string explanation; // --explain report
};

// Never throws; on anything but kChanged no file is left at @out.
Result run(const std::string &orig, const std::string &patched, const std::string &out,
           const Options &opts);

} // namespace kp::diffgen
