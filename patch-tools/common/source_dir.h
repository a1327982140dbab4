// Where kp-build finds kp's own files at run time (kmod/ for kp_core and the patch template,
// include/kp, vm-images/debian_kernel.py): one rule for all of them.
#pragma once
#include <string>

namespace kp::build {

// The repository holding kmod/, include/ and vm-images/: $KP_SOURCE_DIR, else
// <executable's folder>/../share/kp when installed there (make install), else the one
// kp-build was built from.
std::string kp_source_dir();

// kp_source_dir() + "/" + relative.
std::string kp_source_path(const std::string &relative);

} // namespace kp::build
