// diffgen error kinds: each maps to one exit code of the CLI.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

#include "support/error.h"

namespace kp::diffgen {

// Malformed input, I/O failure, internal inconsistency: exit 1.
struct Error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// A change diffgen cannot turn into a safe patch: exit 2.
struct Unsupported : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// The value of a library result; its error thrown as Unsupported (kind unsupported) or Error.
template <class T>
T take(Expected<T> result)
{
	if (!result) {
		if (result.error().kind() == ErrorKind::unsupported)
			throw Unsupported(result.error().message());
		throw Error(result.error().message());
	}
	return std::move(result).value();
}

inline void take(Expected<void> result)
{
	if (!result)
		throw Error(result.error().message());
}

} // namespace kp::diffgen
