// Installing a file atomically: written (or copied) beside its destination under a
// temporary name, then renamed over it, so a reader sees the old file or the new one,
// never a half-written one.  The temporary is removed on failure.
#pragma once
#include <functional>
#include <string>

#include "support/error.h"

namespace kp::support {

// Calls @write with a temporary path in @path's directory, then renames it to @path.
Expected<void> write_atomically(const std::string &path,
                                const std::function<Expected<void>(const std::string &tmp)> &write);

// Copies @src (with its permissions) to @dst atomically; creates @dst's directory.
Expected<void> install_file(const std::string &src, const std::string &dst);

} // namespace kp::support
