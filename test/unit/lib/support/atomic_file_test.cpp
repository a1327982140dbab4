// write_atomically and install_file: the destination is the old file or the new one, and
// no temporary is left behind, whether the write succeeds or fails.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "kit/kit.h"
#include "support/atomic_file.h"

namespace fs = std::filesystem;
using kp::kit::read_file;
using kp::kit::TempDir;
using kp::kit::write_file;

namespace {

size_t entries(const std::string &dir)
{
	size_t n = 0;
	for ([[maybe_unused]] const auto &e : fs::directory_iterator(dir))
		n++;
	return n;
}

} // namespace

TEST(WriteAtomically, ReplacesTheFileThroughATemporaryBesideIt)
{
	TempDir d;
	write_file(d / "f", "old\n");
	std::string seen_tmp;
	auto r = kp::support::write_atomically(d / "f", [&](const std::string &tmp) {
		seen_tmp = tmp;
		EXPECT_EQ(read_file(d / "f"), "old\n"); // untouched while the new one is written
		write_file(tmp, "new\n");
		return kp::Expected<void>();
	});
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_EQ(fs::path(seen_tmp).parent_path(), fs::path(d.path()));
	EXPECT_EQ(read_file(d / "f"), "new\n");
	EXPECT_EQ(entries(d.path()), 1u);
}

TEST(WriteAtomically, AFailedWriteKeepsTheOldFileAndRemovesTheTemporary)
{
	TempDir d;
	write_file(d / "f", "old\n");
	auto r = kp::support::write_atomically(d / "f", [&](const std::string &tmp) {
		write_file(tmp, "half");
		return kp::Expected<void>(kp::Error(kp::ErrorKind::io, "disk full"));
	});
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), kp::ErrorKind::io);
	EXPECT_EQ(r.error().message(), "disk full");
	EXPECT_EQ(read_file(d / "f"), "old\n");
	EXPECT_EQ(entries(d.path()), 1u);
}

TEST(InstallFile, CopiesWithPermissionsAndCreatesTheFolder)
{
	TempDir d;
	write_file(d / "src", "#!/bin/sh\n");
	ASSERT_EQ(chmod((d / "src").c_str(), 0750), 0);
	auto r = kp::support::install_file(d / "src", d / "a/b/dst");
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_EQ(read_file(d / "a/b/dst"), "#!/bin/sh\n");
	struct stat st;
	ASSERT_EQ(stat((d / "a/b/dst").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0750u);
	EXPECT_EQ(entries(d / "a/b"), 1u);
}

TEST(InstallFile, AMissingSourceIsAnIoErrorNamingIt)
{
	TempDir d;
	auto r = kp::support::install_file(d / "nothing", d / "dst");
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), kp::ErrorKind::io);
	EXPECT_NE(r.error().message().find(d / "nothing"), std::string::npos)
	        << r.error().message();
	EXPECT_FALSE(fs::exists(d / "dst"));
	EXPECT_EQ(entries(d.path()), 0u);
}
