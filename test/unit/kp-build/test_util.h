#pragma once
#include <string>

namespace kpbtest {

// A fresh directory under $TMPDIR, removed by the destructor.
class TempDir {
public:
	TempDir();
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	const std::string &path() const { return path_; }
	std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }

private:
	std::string path_;
};

void write_file(const std::string &path, const std::string &content);
std::string read_file(const std::string &path);
// Runs a shell command; returns its exit status.
int sh(const std::string &command);

// The test kernel tree (build/linux) when it is built, else empty.
std::string kernel_tree();

} // namespace kpbtest
