// The human-readable reports of `kpctl status`, `list` and `info` (docs/kpctl.md).
#pragma once

#include <ostream>

#include "render/views.h"

namespace kp::ctl {

void print_status(std::ostream &o, const StatusView &v);
void print_list(std::ostream &o, const ListView &v);
void print_info(std::ostream &o, const InfoView &v);

} // namespace kp::ctl
