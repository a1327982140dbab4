#include "support/atomic_file.h"

#include <unistd.h>

#include <filesystem>

namespace kp::support {

namespace fs = std::filesystem;

Expected<void> write_atomically(const std::string &path,
                                const std::function<Expected<void>(const std::string &tmp)> &write)
{
	std::string tmp = path + ".kp-tmp." + std::to_string(getpid());
	std::error_code ec;
	fs::remove(tmp, ec);
	Expected<void> r = write(tmp);
	if (r) {
		fs::rename(tmp, path, ec);
		if (!ec)
			return {};
		r = Error(ErrorKind::io,
		          "cannot rename " + tmp + " to " + path + ": " + ec.message());
	}
	fs::remove(tmp, ec);
	return r;
}

Expected<void> install_file(const std::string &src, const std::string &dst)
{
	std::error_code ec;
	fs::path parent = fs::path(dst).parent_path();
	if (!parent.empty())
		fs::create_directories(parent, ec);
	if (ec)
		return Error(ErrorKind::io,
		             "cannot create " + parent.string() + ": " + ec.message());
	return write_atomically(dst, [&](const std::string &tmp) -> Expected<void> {
		std::error_code cec;
		fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, cec);
		if (cec)
			return Error(ErrorKind::io,
			             "cannot copy " + src + " to " + tmp + ": " + cec.message());
		return {};
	});
}

} // namespace kp::support
