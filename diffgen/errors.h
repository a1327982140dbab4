// diffgen error kinds: each maps to one exit code of the CLI.
#pragma once
#include <stdexcept>
#include <string>

namespace kp::diffgen {

// Malformed input, I/O failure, internal inconsistency: exit 1.
struct Error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// A change diffgen cannot turn into a safe patch: exit 2.
struct Unsupported : std::runtime_error {
	using std::runtime_error::runtime_error;
};

}  // namespace kp::diffgen
