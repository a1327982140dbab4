// The one C++ test kit of kp's unit tests (test/unit/*): scratch folders, files, and
// running a process (through lib/support's run_process, the tools' own runner), with a
// timeout on every run.  Linked as kp_test_kit, with kp_test_main (ci_main.cpp).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kp::kit {

namespace fs = std::filesystem;

// A fresh folder under $TMPDIR (or /tmp), or under @parent when given; removed with its
// contents by the destructor.
class TempDir {
public:
	explicit TempDir(const std::string &prefix = "kp-test", const fs::path &parent = {});
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	const std::string &path() const { return path_; }
	std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }
	// The destructor leaves the folder in place (to look at it after a failure).
	void keep() { path_.clear(); }

private:
	std::string path_;
};

// A fresh (emptied) folder @name in this test process's scratch root, which is removed
// when the process exits (KP_KEEP_TEST_FILES=1 keeps it).
fs::path scratch_dir(const std::string &name);

// Writes @content to @path, creating its folder; throws std::runtime_error on failure.
void write_file(const fs::path &path, const std::string &content);
// The whole file; "" when it cannot be read.
std::string read_file(const fs::path &path);

// @s quoted for /bin/sh.
std::string quote(const std::string &s);

struct Result {
	int status = -1;        // exit status, 128+signal, 127 when it could not run
	std::string out, err;   // stdout and stderr (with merge_stderr: both in out)
	bool timed_out = false; // killed when RunOptions::timeout_s passed
	std::vector<std::string> err_lines() const;
};

struct RunOptions {
	std::map<std::string, std::string> env; // added to the environment
	bool merge_stderr = false;              // stderr into out, interleaved
	double timeout_s = 600;                 // then the process group is killed
};

// Runs @argv (PATH lookup, stdin /dev/null).
Result run(const std::vector<std::string> &argv, const RunOptions &opts = {});
// Runs @script with /bin/sh -c.
Result sh(const std::string &script, const RunOptions &opts = {});

// The test kernel tree (KP_BUILD_DIR/linux), built or not.
fs::path kernel_tree();
// That tree when its build finished (vmlinux and Module.symvers exist), else "".
std::string built_kernel_tree();

} // namespace kp::kit
