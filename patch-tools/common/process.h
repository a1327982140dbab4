// Running external programs (make, patch, diffgen, ar) with their output captured.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kp::build {

class Log;

struct ProcResult {
	int status = -1;    // exit status, or 128+signal
	std::string output; // stdout and stderr, interleaved
	double seconds = 0;
};

// Runs argv (PATH lookup) in cwd (empty = current). The command line and its full output
// go to log when given; `on_output` (optional) sees the output as it comes.
ProcResult run_process(const std::vector<std::string> &argv, const std::string &cwd = {},
                       Log *log = nullptr,
                       const std::function<void(std::string_view)> &on_output = {});

std::string join_command(const std::vector<std::string> &argv);

} // namespace kp::build
