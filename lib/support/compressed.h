// Compressed files kp reads as if they were plain: Debian's 6.12 kernels ship their modules
// xz-compressed (`.ko.xz`, MODULE_COMPRESS_XZ with MODULE_COMPRESS_ALL).  Recognised by
// their bytes, not their names.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "support/error.h"

namespace kp::support {

enum class Compression { none, xz, gzip, zstd };

// The compression @bytes start with (its magic), none for anything else.
Compression compression_of(std::span<const uint8_t> bytes);

// @bytes, an xz stream (all of it), decompressed; @name is the file named in the error, a
// format error saying why liblzma refused it (not xz, corrupt, truncated).
Expected<std::vector<uint8_t>> xz_decompress(const std::string &name,
                                             std::span<const uint8_t> bytes);

} // namespace kp::support
