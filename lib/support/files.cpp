#include "support/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace kp::support {

Expected<std::string> read_text_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		return Error(ErrorKind::io, "cannot read " + path);
	std::stringstream ss;
	ss << in.rdbuf();
	if (in.bad())
		return Error(ErrorKind::io, "cannot read " + path);
	return ss.str();
}

namespace {

bool is_directory_entry(DIR *d, const dirent *e, const std::string &path, Expected<void> &err)
{
	if (e->d_type != DT_UNKNOWN)
		return e->d_type == DT_DIR;
	struct stat st;
	if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		err = errno_error("stat " + path + "/" + e->d_name);
		return false;
	}
	return S_ISDIR(st.st_mode);
}

// Takes ownership of dfd.
Expected<void> remove_dir_contents(int dfd, const std::string &path)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		Error e = errno_error("fdopendir " + path);
		close(dfd);
		return e;
	}
	std::unique_ptr<DIR, int (*)(DIR *)> guard(d, closedir);
	while (dirent *e = readdir(d)) {
		const char *n = e->d_name;
		if (!std::strcmp(n, ".") || !std::strcmp(n, ".."))
			continue;
		Expected<void> err;
		bool is_dir = is_directory_entry(d, e, path, err);
		if (!err)
			return err;
		if (!is_dir) {
			if (unlinkat(dirfd(d), n, 0) != 0)
				return errno_error("unlink " + path + "/" + n);
			continue;
		}
		int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return errno_error("open " + path + "/" + n);
		if (auto r = remove_dir_contents(sub, path + "/" + n); !r)
			return r;
		if (unlinkat(dirfd(d), n, AT_REMOVEDIR) != 0)
			return errno_error("rmdir " + path + "/" + n);
	}
	return {};
}

} // namespace

Expected<void> remove_tree(const std::string &path)
{
	int dfd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return {};
		if (errno == ENOTDIR || errno == ELOOP) {
			if (unlink(path.c_str()) != 0)
				return errno_error("unlink " + path);
			return {};
		}
		return errno_error("open " + path);
	}
	if (auto r = remove_dir_contents(dfd, path); !r)
		return r;
	if (rmdir(path.c_str()) != 0)
		return errno_error("rmdir " + path);
	return {};
}

Expected<std::vector<std::string>> list_directory(const std::string &dir, bool missing_ok)
{
	std::vector<std::string> names;
	DIR *d = opendir(dir.c_str());
	if (!d) {
		if (errno == ENOENT && missing_ok)
			return names;
		return errno_error("cannot read directory " + dir);
	}
	std::unique_ptr<DIR, int (*)(DIR *)> guard(d, closedir);
	while (dirent *e = readdir(d))
		if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
			names.emplace_back(e->d_name);
	return names;
}

Expected<bool> lock_fd(int fd, LockMode mode, const std::string &what)
{
	int op = mode == LockMode::shared      ? LOCK_SH
	         : mode == LockMode::exclusive ? LOCK_EX
	                                       : LOCK_EX | LOCK_NB;
	while (flock(fd, op) != 0) {
		if (errno == EWOULDBLOCK && mode == LockMode::exclusive_try)
			return false;
		if (errno != EINTR)
			return errno_error("cannot lock " + what);
	}
	return true;
}

Expected<FileLock> FileLock::acquire(const std::string &path)
{
	Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	if (!fd)
		return errno_error("cannot open lock " + path);
	auto locked = lock_fd(fd.get(), LockMode::exclusive, path);
	if (!locked)
		return locked.error();
	return FileLock(std::move(fd));
}

Expected<std::string> make_temp_dir(const std::string &parent, const std::string &prefix)
{
	std::error_code ec;
	std::filesystem::create_directories(parent, ec);
	if (ec)
		return Error(ErrorKind::io, "cannot create " + parent + ": " + ec.message());
	std::string t = parent + "/" + prefix + "XXXXXX";
	std::vector<char> buf(t.begin(), t.end());
	buf.push_back('\0');
	if (!mkdtemp(buf.data()))
		return errno_error("cannot create a work directory in " + parent);
	return std::string(buf.data());
}

std::string normalize_module_name(std::string name)
{
	std::replace(name.begin(), name.end(), '-', '_');
	return name;
}

std::string module_name_of_file(const std::string &path)
{
	auto slash = path.rfind('/');
	std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
	return normalize_module_name(base.substr(0, base.find('.')));
}

} // namespace kp::support
