// kp-build's name for the one fd helper (lib/support/fd.h).
#pragma once
#include "support/fd.h"

namespace kpb {

using UniqueFd = kp::support::Fd;

} // namespace kpb
