// Errors of kp-build: each carries the exit status it maps to.
#pragma once
#include <stdexcept>
#include <string>

namespace kp::build {

enum ExitCode : int {
	kExitBuilt = 0,
	kExitError = 1,
	kExitUnsupported = 2,
	kExitNoChange = 3,
};

class Error : public std::runtime_error {
public:
	explicit Error(const std::string &what, int code = kExitError)
	    : std::runtime_error(what), code_(code)
	{}
	int code() const { return code_; }

private:
	int code_;
};

// errno-based failure of a system call on a path.
[[noreturn]] void throw_errno(const std::string &what);

} // namespace kp::build
