// A module file opened once.  Every check kpctl makes before loading a module (who owns
// it, who can write it or the directories above it, what it contains) and the
// finit_module(2) that loads it go through this one descriptor, so the file checked is
// the file loaded: replacing the path afterwards changes nothing.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>

namespace kp::ctl {

class ModuleFd {
public:
	// Opens @path read-only.  Throws Error(file_missing).
	static ModuleFd open(const std::string &path);
	// Opens @path for loading into the kernel.  Resolves it to its canonical path, then
	// opens each directory from / down with O_NOFOLLOW and checks it on its descriptor,
	// and the file last: everything must be owned by root and writable by no one else
	// (see trust_problem()).  Throws Error(file_missing) when the file does not exist
	// or is not a regular file, Error(untrusted_module) when a check fails.
	static ModuleFd open_trusted(const std::string &path);

	ModuleFd(ModuleFd &&o) noexcept;
	ModuleFd &operator=(ModuleFd &&o) noexcept;
	ModuleFd(const ModuleFd &) = delete;
	ModuleFd &operator=(const ModuleFd &) = delete;
	~ModuleFd();

	int fd() const { return fd_; }
	// The path as given, for messages.
	const std::string &path() const { return path_; }

private:
	ModuleFd(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
	int fd_ = -1;
	std::string path_;
};

// Why a file (@is_dir false) or a directory on its path (@is_dir true) with status @st
// could be changed by someone other than root, or nullopt when it cannot: it must be
// owned by root and not writable by its group or others (a sticky bit does not help:
// in a sticky world-writable directory anyone may still create the module's name first).
std::optional<std::string> trust_problem(const struct stat &st, bool is_dir);

} // namespace kp::ctl
