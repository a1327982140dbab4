#include "test_util.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace kpbtest {

TempDir::TempDir()
{
	const char *t = std::getenv("TMPDIR");
	std::string tmpl = std::string(t && *t ? t : "/tmp") + "/kp-build-test-XXXXXX";
	std::vector<char> buf(tmpl.begin(), tmpl.end());
	buf.push_back('\0');
	if (!mkdtemp(buf.data()))
		throw std::runtime_error("mkdtemp failed");
	path_ = buf.data();
}

TempDir::~TempDir()
{
	std::error_code ec;
	std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string &path, const std::string &content)
{
	std::filesystem::create_directories(std::filesystem::path(path).parent_path());
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << content;
	if (!out)
		throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

int sh(const std::string &command)
{
	int st = std::system(command.c_str());
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string kernel_tree()
{
	std::string t = std::string(KP_BUILD_DIR) + "/linux";
	struct stat st;
	if (stat((t + "/vmlinux.a").c_str(), &st) != 0)
		return {};
	return t;
}

} // namespace kpbtest
