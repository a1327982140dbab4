// kpctl's failure kinds: one exit code each, one line of text that says what is wrong
// and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace kp::ctl {

enum class Exit : int {
	ok = 0,
	internal = 1,          // unexpected system error
	usage = 2,             // bad command line
	not_root = 3,          // load/unload need root
	file_missing = 4,      // FILE.ko does not exist or cannot be read
	not_module = 5,        // not an ELF x86_64 kernel module
	not_kp_patch = 6,      // a module, but without kp patch records
	wrong_kernel = 7,      // built for another kernel (build ID / release)
	already_loaded = 8,    // the patch module is already loaded
	unknown_patch = 9,     // unload/status: no such patch loaded
	core_missing = 10,     // kp_core.ko not loaded and not found
	core_failed = 11,      // kp_core.ko found but the kernel refused it
	busy = 12,             // transition blocked by tasks until --timeout
	load_failed = 13,      // the kernel or the core refused the patch
	unload_failed = 14,    // disabling or removing the patch failed
	untrusted_module = 15, // load: a module someone other than root could change
	rolled_back = 16,      // load: rolled back during probation, or refused as rolled back
	                       // before
	bad_state = 17,        // install, load --all: kpctl's state folder is damaged
};

// The highest exit code (--help lists them all).
inline constexpr Exit last_exit = Exit::bad_state;

const char *exit_name(Exit e);

// A failure that ends the command: message is the one line to print.
class Error : public std::runtime_error {
public:
	Error(Exit code, const std::string &msg) : std::runtime_error(msg), code_(code) {}
	Exit code() const { return code_; }

private:
	Exit code_;
};

// "<what>: <strerror(err)>"
std::string errno_text(const std::string &what, int err);

} // namespace kp::ctl
