// The diffgen pipeline: load -> correlate -> compare -> select -> special sections ->
// write (-> explain).  Library entry point used by the CLI and the tests.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "options.h"
#include "support/error.h"

namespace kp::diffgen {

struct Result {
	// Empty: OUT written. Else why not: ErrorKind::no_change, ErrorKind::unsupported (a
	// change diffgen cannot turn into a safe patch) or the kind of the error. The tools
	// map it to their exit codes (diffgen's main.cpp, kp-build's diff stage).
	std::optional<ErrorKind> failure = ErrorKind::internal;
	bool changed() const { return !failure; }
	// "changed", else error_kind_name(*failure).
	std::string outcome() const { return failure ? error_kind_name(*failure) : "changed"; }
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

// Never throws; unless changed() no file is left at @out.
Result run(const std::string &orig, const std::string &patched, const std::string &out,
           const Options &opts);

} // namespace kp::diffgen
