// Splitting a POSIX sh command line, as Kbuild's `make -n` prints its recipes, into simple
// commands. Only what those recipes use: words, '...' and "..." quoting, backslashes; the
// control operators ; | & && || end a command; > >> < are words of their own.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kp::build {

using ShellCommand = std::vector<std::string>;

struct ShellLine {
	std::vector<ShellCommand> commands;
	// The operator that ended each command ("" for the last one): "|" marks a pipeline.
	std::vector<std::string> ended_by;
	bool complete = true; // false when a quote was left open (the rest is dropped)
};

ShellLine split_shell_line(std::string_view line);

} // namespace kp::build
