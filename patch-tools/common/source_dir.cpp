#include "source_dir.h"

#include <cstdlib>

#ifndef KP_SOURCE_DIR
#define KP_SOURCE_DIR ""
#endif

namespace kp::build {

std::string kp_source_dir()
{
	if (const char *e = std::getenv("KP_SOURCE_DIR"); e && *e)
		return e;
	return KP_SOURCE_DIR;
}

std::string kp_source_path(const std::string &relative)
{
	return kp_source_dir() + "/" + relative;
}

} // namespace kp::build
