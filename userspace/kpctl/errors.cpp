#include "errors.h"

#include <cstring>

namespace kp::ctl {

const char *exit_name(Exit e)
{
	switch (e) {
	case Exit::ok: return "ok";
	case Exit::internal: return "internal error";
	case Exit::usage: return "usage error";
	case Exit::not_root: return "not root";
	case Exit::file_missing: return "file missing or unreadable";
	case Exit::not_module: return "not an x86_64 kernel module";
	case Exit::not_kp_patch: return "not a kp patch module";
	case Exit::wrong_kernel: return "built for another kernel";
	case Exit::already_loaded: return "already loaded";
	case Exit::unknown_patch: return "no such patch loaded";
	case Exit::core_missing: return "core module missing";
	case Exit::core_failed: return "core module failed to load";
	case Exit::busy: return "transition blocked until timeout";
	case Exit::load_failed: return "patch load refused";
	case Exit::unload_failed: return "patch unload failed";
	case Exit::untrusted_module: return "module file not root-only";
	case Exit::rolled_back: return "patch rolled back";
	case Exit::bad_state: return "installed patches damaged";
	}
	return "?";
}

std::string errno_text(const std::string &what, int err)
{
	return what + ": " + std::strerror(err);
}

} // namespace kp::ctl
