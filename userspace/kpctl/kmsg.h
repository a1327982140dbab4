// The kernel log lines written since a point in time (/dev/kmsg), to show what the
// core module said about one load or disable attempt (blocking tasks, refusals).
#pragma once

#include <string>
#include <vector>

namespace kp::ctl {

class KmsgCursor {
public:
	// Positions at the end of the log.  Without /dev/kmsg, available() is false and
	// read_new() returns nothing.
	KmsgCursor();
	~KmsgCursor();
	KmsgCursor(const KmsgCursor &) = delete;
	KmsgCursor &operator=(const KmsgCursor &) = delete;

	bool available() const { return fd_ >= 0; }
	// Messages logged since construction or the previous call (text only).
	std::vector<std::string> read_new();

private:
	int fd_ = -1;
};

// The messages of the core module (prefix "kp_core: "), prefix removed.  With
// @patch, only those about that patch (the core writes "kp_core: <patch>: ..."),
// with that prefix removed too.
std::vector<std::string> core_messages(const std::vector<std::string> &msgs,
                                       const std::string &patch = "");

} // namespace kp::ctl
