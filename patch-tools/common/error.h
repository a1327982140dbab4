// kp-build's stages throw kp's one error type (lib/support/error.h) as a Failure: a kind
// and a message. main.cpp alone maps kinds to exit codes.
#pragma once
#include <string>

#include "support/error.h"

namespace kp::build {

using Error = kp::Failure;
using kp::ErrorKind;
using kp::take;

// errno-based failure of a system call on a path (kind io).
[[noreturn]] void throw_errno(const std::string &what);

} // namespace kp::build
