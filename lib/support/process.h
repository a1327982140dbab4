// Running an external program (make, patch, gcc) with its stdout and stderr captured.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "support/error.h"

namespace kp::support {

struct ProcessResult {
	int status = -1;    // exit status, or 128+signal; 127 when the program cannot run
	std::string output; // stdout and stderr, interleaved
	double seconds = 0;
	bool timed_out = false; // killed (with its process group) when the timeout passed
};

// Runs @argv (PATH lookup) in @cwd (empty: the current directory) with stdin from
// /dev/null; @on_output (optional) sees the output as it comes (progress of long builds).
// With @timeout_s > 0 the process runs in a process group of its own, killed (SIGKILL)
// once @timeout_s seconds have passed: status 128+9, timed_out set.
// An error only when the process cannot be started at all.
Expected<ProcessResult> run_process(const std::vector<std::string> &argv,
                                    const std::string &cwd = {},
                                    const std::function<void(std::string_view)> &on_output = {},
                                    double timeout_s = 0);

// @argv as a shell would need it quoted, for logs and messages.
std::string join_command(const std::vector<std::string> &argv);

} // namespace kp::support
