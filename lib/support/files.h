// File helpers every tool shares: whole-file reads, tree removal that never writes a file,
// advisory locks (flock), temporary directories and the kernel's module-name rule.
// Errors are values (Expected); tools that work by exceptions unwrap them with take().
#pragma once
#include <string>
#include <vector>

#include "support/error.h"
#include "support/fd.h"

namespace kp::support {

// The whole file; an io error naming it when it cannot be read.
Expected<std::string> read_text_file(const std::string &path);

// Removes a file or a directory tree by unlinking (never opens a file for writing); a
// missing path is not an error. A symlink is removed, never followed.
Expected<void> remove_tree(const std::string &path);

// The entry names of a directory, "." and ".." left out, in readdir order. A missing
// directory has none when @missing_ok.
Expected<std::vector<std::string>> list_directory(const std::string &dir, bool missing_ok = false);

enum class LockMode {
	shared,        // wait for a shared lock
	exclusive,     // wait for an exclusive lock
	exclusive_try, // an exclusive lock if free now
};

// flock() on an open file, retried on EINTR. Returns false only with exclusive_try when
// another holder has it.
Expected<bool> lock_fd(int fd, LockMode mode, const std::string &what);

// An exclusive lock on a lock file (created when missing), held while the object lives.
class FileLock {
public:
	static Expected<FileLock> acquire(const std::string &path);
	int fd() const { return fd_.get(); }

private:
	explicit FileLock(Fd fd) : fd_(std::move(fd)) {}
	Fd fd_;
};

// A new directory <parent>/<prefix>XXXXXX (parent created when missing); its path.
Expected<std::string> make_temp_dir(const std::string &parent, const std::string &prefix);

// The kernel's name of a module: '-' is '_' (KBUILD_MODNAME, /sys/module, modules.dep).
std::string normalize_module_name(std::string name);

// The module name of a module file: "drivers/net/e1000e.ko.xz" -> "e1000e",
// "kp-fix.ko" -> "kp_fix".
std::string module_name_of_file(const std::string &path);

} // namespace kp::support
