#include "support/error.h"

#include <cerrno>
#include <cstring>

namespace kp {

const char *error_kind_name(ErrorKind kind)
{
	switch (kind) {
	case ErrorKind::io: return "io";
	case ErrorKind::format: return "format";
	case ErrorKind::records: return "records";
	case ErrorKind::unsupported: return "unsupported";
	case ErrorKind::lookup: return "lookup";
	case ErrorKind::internal: return "internal";
	case ErrorKind::failed: return "failed";
	case ErrorKind::no_change: return "no change";
	case ErrorKind::refused: return "refused";
	}
	return "unknown";
}

Error errno_error(const std::string &what)
{
	return {ErrorKind::io, what + ": " + std::strerror(errno)};
}

} // namespace kp
