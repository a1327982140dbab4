#include "error.hpp"

#include <cerrno>
#include <cstring>

namespace kpb {

void throw_errno(const std::string& what) {
  throw Error(what + ": " + std::strerror(errno));
}

}  // namespace kpb
