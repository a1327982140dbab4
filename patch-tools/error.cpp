#include "error.h"

#include <cerrno>
#include <cstring>

namespace kp::build {

void throw_errno(const std::string &what)
{
	throw Error(what + ": " + std::strerror(errno));
}

} // namespace kp::build
