// kp's one error type: a kind and one line of text naming the file, function or section
// and the reason.  Library functions return it as a value (Expected<T>); code that works by
// exceptions (kp-build's stages, diffgen's stages) throws it as a Failure, kind kept. Each
// main() maps kinds to its own exit codes (exit_code() in its main.cpp), nothing else does.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace kp {

enum class ErrorKind {
	io,          // cannot open, read or write a file; a system call failed
	format,      // not the ELF file expected, or a malformed one
	records,     // an ELF file whose kp records are missing, malformed or of another ABI
	unsupported, // valid input kp cannot handle (a change it cannot patch safely)
	lookup,      // a symbol is missing or ambiguous in the target
	internal,    // a bug: an invariant did not hold
	failed,      // a step failed (a build, a tool kp runs, a check of kp's own)
	no_change,   // nothing to do: the input changes nothing kp would patch
	refused,     // the target refuses it (another kernel, compiler or version)
};

const char *error_kind_name(ErrorKind kind);

class Error {
public:
	Error(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
	ErrorKind kind() const { return kind_; }
	const std::string &message() const { return message_; }
	// The same error with "@prefix: " in front of the message.
	Error context(const std::string &prefix) const { return {kind_, prefix + ": " + message_}; }

private:
	ErrorKind kind_;
	std::string message_;
};

// "<what>: <strerror(errno)>" as an io error.
Error errno_error(const std::string &what);

// A value or the Error that prevented it (std::expected of C++23, minus what kp does not use).
template <class T>
class [[nodiscard]] Expected {
public:
	Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
	Expected(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

	bool has_value() const { return v_.index() == 0; }
	explicit operator bool() const { return has_value(); }
	T &value() & { return std::get<0>(v_); }
	const T &value() const & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	T &operator*() & { return value(); }
	const T &operator*() const & { return value(); }
	T *operator->() { return &value(); }
	const T *operator->() const { return &value(); }
	const Error &error() const { return std::get<1>(v_); }

private:
	std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
public:
	Expected() = default;
	Expected(Error error) : error_(std::in_place, std::move(error)) {}

	bool has_value() const { return !error_.has_value(); }
	explicit operator bool() const { return has_value(); }
	const Error &error() const { return *error_; }

private:
	std::optional<Error> error_;
};

// An Error thrown, for code that works by exceptions; main() catches it and maps kind().
class Failure : public std::runtime_error {
public:
	explicit Failure(Error error)
	    : std::runtime_error(error.message()), error_(std::move(error))
	{}
	Failure(ErrorKind kind, const std::string &message) : Failure(Error(kind, message)) {}
	explicit Failure(const std::string &message) : Failure(ErrorKind::failed, message) {}
	const Error &error() const { return error_; }
	ErrorKind kind() const { return error_.kind(); }

private:
	Error error_;
};

// The value of a library result, or its Error thrown as a Failure (kind kept).
template <class T>
T take(Expected<T> result)
{
	if (!result)
		throw Failure(result.error());
	return std::move(result).value();
}

inline void take(const Expected<void> &result)
{
	if (!result)
		throw Failure(result.error());
}

} // namespace kp
