// kp-build's name for the one fd helper (lib/support/fd.h).
#pragma once
#include "support/fd.h"

namespace kp::build {

using UniqueFd = kp::support::Fd;

} // namespace kp::build
