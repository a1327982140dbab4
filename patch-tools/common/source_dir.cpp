#include "source_dir.h"

#include <cstdlib>
#include <filesystem>

#ifndef KP_SOURCE_DIR
#define KP_SOURCE_DIR ""
#endif

namespace fs = std::filesystem;

namespace kp::build {

namespace {

// <folder of this executable>/../share/kp when it holds kp's files: an installed kp-build
// (make install, the kp Debian package) finds them there, wherever PREFIX was.
std::string installed_share_dir()
{
	std::error_code ec;
	fs::path exe = fs::read_symlink("/proc/self/exe", ec);
	if (ec)
		return "";
	fs::path share = exe.parent_path().parent_path() / "share" / "kp";
	return fs::is_directory(share / "kmod" / "core", ec) ? share.string() : "";
}

} // namespace

std::string kp_source_dir()
{
	if (const char *e = std::getenv("KP_SOURCE_DIR"); e && *e)
		return e;
	static const std::string installed = installed_share_dir();
	return installed.empty() ? KP_SOURCE_DIR : installed;
}

std::string kp_source_path(const std::string &relative)
{
	return kp_source_dir() + "/" + relative;
}

} // namespace kp::build
