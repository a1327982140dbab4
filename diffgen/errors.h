// diffgen's stages throw kp's one error type (lib/support/error.h) as a Failure; run()
// (diffgen.h) catches it and reports its kind. main.cpp alone maps kinds to exit codes.
#pragma once
#include <string>

#include "support/error.h"

namespace kp::diffgen {

using Error = kp::Failure;
using kp::ErrorKind;
using kp::take;

} // namespace kp::diffgen
