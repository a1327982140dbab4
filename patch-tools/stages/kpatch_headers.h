// kpatch compatibility: kp's own kpatch-macros.h and kpatch-syscall.h (kmod/patch/kpatch/)
// put beside every source file a patch changes, so `#include "kpatch-macros.h"` in a
// patch written for kpatch finds them without a change of compiler flags (which would
// make Kbuild rebuild more than the patched objects).
#pragma once
#include <set>
#include <string>

namespace kp::build {

// Copies kpatch-macros.h, kpatch-syscall.h, kp-abi.h (include/kp/abi.h) and kp-value.h
// (KP_TRANSFER_VALUE) from the kp
// source tree @kp_src into the directory of each of @files (paths relative to @tree) that
// has no file of that name already.  Throws Error naming the file that cannot be written.
void install_kpatch_headers(const std::string &kp_src, const std::string &tree,
                            const std::set<std::string> &files);

// The paths (relative to the tree) install_kpatch_headers may write for @files.
std::set<std::string> kpatch_header_paths(const std::set<std::string> &files);

} // namespace kp::build
