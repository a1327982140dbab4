// Shared by kpctl's unit tests: the fixture modules (built once per process with
// Kbuild against the test kernel), running the kpctl binary, scratch files.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kit/kit.h"

namespace kp::ctl::test {

namespace fs = std::filesystem;

struct Fixtures {
	fs::path patch_ko;    // kpctl_fixture.ko for the test kernel
	fs::path wrong_id_ko; // the same, built with KP_TARGET_BUILD_ID=00..00
	fs::path plain_ko;    // an ordinary module
	fs::path patch_o;     // kpctl_fixture.o: ELF, not a module
	std::string skip;     // why they cannot be built (test kernel missing), or ""
};

// Builds on first use.  Fails the calling test if a build fails.
const Fixtures &fixtures();

fs::path kernel_tree();
std::string test_kernel_release();
std::string test_kernel_build_id(); // from `readelf -n vmlinux`, not from kpctl

// Fresh, removed at exit; under the build folder, not /tmp: kpctl load trusts a module
// file only in folders that only root can write (/tmp is world-writable).
fs::path scratch_dir(const std::string &name);
using kit::read_file;
using kit::Result;
using kit::write_file;

// Runs kpctl with @args, extra environment @env, optionally as the unprivileged user
// nobody (setpriv), through the test kit.
Result kpctl(const std::vector<std::string> &args,
             const std::map<std::string, std::string> &env = {}, bool as_nobody = false);
Result shell(const std::string &cmd);

} // namespace kp::ctl::test

#define KPCTL_NEED_FIXTURES()                                                                      \
	do {                                                                                       \
		if (!::kp::ctl::test::fixtures().skip.empty())                                     \
			GTEST_SKIP() << ::kp::ctl::test::fixtures().skip;                          \
	} while (0)
