#include "kmsg.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "paths.h"

namespace kp::ctl {

KmsgCursor::KmsgCursor()
{
	fd_ = ::open(paths::kmsg().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd_ >= 0)
		::lseek(fd_, 0, SEEK_END);
}

KmsgCursor::~KmsgCursor()
{
	if (fd_ >= 0)
		::close(fd_);
}

std::vector<std::string> KmsgCursor::read_new()
{
	std::vector<std::string> out;
	if (fd_ < 0)
		return out;
	char buf[8192];
	for (;;) {
		ssize_t n = ::read(fd_, buf, sizeof(buf) - 1);
		if (n < 0) {
			if (errno == EPIPE || errno == EINTR)
				continue; // records overwritten: carry on with the next one
			break;            // EAGAIN: nothing more
		}
		if (n == 0)
			break;
		// One record per read: "prio,seq,ts,flags;message\n[ continuation lines]".
		std::string rec(buf, static_cast<size_t>(n));
		auto semi = rec.find(';');
		if (semi == std::string::npos)
			continue;
		auto nl = rec.find('\n', semi);
		out.push_back(rec.substr(semi + 1, nl == std::string::npos ? std::string::npos
		                                                           : nl - semi - 1));
	}
	return out;
}

std::vector<std::string> core_messages(const std::vector<std::string> &msgs,
                                       const std::string &patch)
{
	const std::string prefix = "kp_core: " + (patch.empty() ? "" : patch + ": ");
	std::vector<std::string> out;
	for (const auto &m : msgs)
		if (m.compare(0, prefix.size(), prefix) == 0)
			out.push_back(m.substr(prefix.size()));
	return out;
}

} // namespace kp::ctl
