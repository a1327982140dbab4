// Small relocatable objects for the shared libraries' unit tests, written with lib/elf's
// Writer (no compiler): what each test builds is in the test, in a few lines.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "elf/object.h"
#include "elf/writer.h"
#include "kit/kit.h"

namespace kp::libtest {

// The bytes of @s (NULs included when given as a string_view literal with its size).
std::vector<uint8_t> bytes(std::string_view s);
// @v as 8 little-endian bytes, appended to @out.
void put_u64(std::vector<uint8_t> &out, uint64_t v);

// Writes @w to @dir/@name and reads it back; the test fails (and nullptr is returned)
// when either step fails.
std::unique_ptr<elf::Object> write_and_read(const elf::Writer &w, const kit::TempDir &dir,
                                            const std::string &name = "t.o",
                                            const elf::ReadOptions &opts = {});

// Section flags used throughout.
inline constexpr uint64_t kText = SHF_ALLOC | SHF_EXECINSTR;
inline constexpr uint64_t kData = SHF_ALLOC | SHF_WRITE;

} // namespace kp::libtest
