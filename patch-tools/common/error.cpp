#include "error.h"

namespace kp::build {

void throw_errno(const std::string &what)
{
	throw Error(kp::errno_error(what));
}

} // namespace kp::build
