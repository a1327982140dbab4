#include "module_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "errors.h"

namespace fs = std::filesystem;

namespace kp::ctl {

namespace {

// A descriptor closed at scope exit unless released.
class FdGuard {
public:
	explicit FdGuard(int fd) : fd_(fd) {}
	~FdGuard()
	{
		if (fd_ >= 0)
			::close(fd_);
	}
	FdGuard(const FdGuard &) = delete;
	FdGuard &operator=(const FdGuard &) = delete;
	int get() const { return fd_; }
	int release() { return std::exchange(fd_, -1); }
	void reset(int fd)
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_;
};

std::string octal_mode(mode_t m)
{
	char buf[8];
	snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(m & 07777));
	return buf;
}

[[noreturn]] void refuse(const std::string &path, const std::string &what, const std::string &why)
{
	throw Error(Exit::untrusted_module,
	            "refusing to load " + path + ": " + what + " " + why +
	                    ", so someone other than root could change what is loaded; install the "
	                    "module as root in a root-only directory (install -o root -g root -m "
	                    "0644 FILE /lib/modules/$(uname -r)/...)");
}

void check(int fd, const std::string &path, const std::string &what, bool is_dir)
{
	struct stat st;
	if (::fstat(fd, &st) != 0)
		throw Error(Exit::internal, errno_text("fstat " + what, errno));
	if (auto p = trust_problem(st, is_dir))
		refuse(path, what, *p);
}

} // namespace

std::optional<std::string> trust_problem(const struct stat &st, bool is_dir)
{
	if (st.st_uid != 0)
		return "is owned by uid " + std::to_string(st.st_uid) + ", not root";
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return std::string("is writable by ") +
		       (st.st_mode & S_IWOTH ? "others" : "its group") + " (mode " +
		       octal_mode(st.st_mode) +
		       (is_dir && (st.st_mode & S_ISVTX) ? ", sticky" : "") + ")";
	return std::nullopt;
}

ModuleFd ModuleFd::open(const std::string &path)
{
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw Error(Exit::file_missing, errno_text("cannot open " + path, errno) +
		                                        "; give the path of a .ko file");
	return ModuleFd(fd, path);
}

ModuleFd ModuleFd::open_trusted(const std::string &path)
{
	std::error_code ec;
	fs::path real = fs::canonical(path, ec);
	if (ec)
		throw Error(Exit::file_missing, "cannot open " + path + ": " + ec.message() +
		                                        "; give the path of a .ko file");
	FdGuard dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (dir.get() < 0)
		throw Error(Exit::internal, errno_text("open /", errno));
	check(dir.get(), path, "directory /", true);
	fs::path walked = "/";
	fs::path name = real.filename();
	for (const fs::path &part : real.parent_path().relative_path()) {
		walked /= part;
		int next = ::openat(dir.get(), part.c_str(),
		                    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			throw Error(Exit::untrusted_module,
			            errno_text("refusing to load " + path + ": directory " +
			                               walked.string() +
			                               " changed while it was checked",
			                       errno) +
			                    "; retry, and make sure only root can change it");
		dir.reset(next);
		check(dir.get(), path, "directory " + walked.string(), true);
	}
	// O_NOFOLLOW: a symbolic link put in the file's place after canonical() is refused.
	FdGuard file(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	if (file.get() < 0)
		throw Error(Exit::file_missing,
		            errno_text("cannot open " + path + " (" + real.string() + ")", errno) +
		                    "; give the path of a .ko file");
	struct stat st;
	if (::fstat(file.get(), &st) != 0)
		throw Error(Exit::internal, errno_text("fstat " + path, errno));
	if (!S_ISREG(st.st_mode))
		throw Error(Exit::file_missing,
		            path + " is not a regular file; give the path of a .ko file");
	check(file.get(), path, real == fs::path(path) ? "the file" : "the file " + real.string(),
	      false);
	return ModuleFd(file.release(), path);
}

ModuleFd::ModuleFd(ModuleFd &&o) noexcept : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_))
{}

ModuleFd &ModuleFd::operator=(ModuleFd &&o) noexcept
{
	if (this != &o) {
		if (fd_ >= 0)
			::close(fd_);
		fd_ = std::exchange(o.fd_, -1);
		path_ = std::move(o.path_);
	}
	return *this;
}

ModuleFd::~ModuleFd()
{
	if (fd_ >= 0)
		::close(fd_);
}

} // namespace kp::ctl
