// ModuleFd: a module is opened once, checked on that descriptor and loaded through it;
// files and directories someone other than root could change are refused.
// Nothing here loads a module: finit_module(2) is replaced by a recorder, and the
// command-line checks use files that are not modules.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "errors.h"
#include "fixtures.h"
#include "loader.h"
#include "module_fd.h"
#include "module_file.h"

using namespace kp::ctl::test;
using kp::ctl::Exit;
using kp::ctl::ModuleFd;

namespace {

constexpr uid_t nobody = 65534;

Exit open_error(const fs::path &p)
{
	try {
		ModuleFd::open_trusted(p.string());
	} catch (const kp::ctl::Error &e) {
		return e.code();
	}
	return Exit::ok;
}

std::string message_of(const fs::path &p)
{
	try {
		ModuleFd::open_trusted(p.string());
	} catch (const kp::ctl::Error &e) {
		return e.what();
	}
	return "";
}

// A root-only directory with a root-only file "m.ko" holding @content.
fs::path trusted_file(const std::string &name, const std::string &content)
{
	fs::path d = scratch_dir(name);
	chmod(d.c_str(), 0755);
	write_file(d / "m.ko", content);
	chmod((d / "m.ko").c_str(), 0644);
	return d / "m.ko";
}

// What the recorder saw of the descriptor it was given.
std::string loaded_bytes;
std::string loaded_params;

int record_finit(int fd, const char *params)
{
	loaded_bytes.clear();
	char buf[4096];
	off_t off = 0;
	for (ssize_t n; (n = pread(fd, buf, sizeof(buf), off)) > 0; off += n)
		loaded_bytes.append(buf, static_cast<size_t>(n));
	loaded_params = params;
	return 0;
}

bool is_root()
{
	return geteuid() == 0;
}

} // namespace

TEST(ModuleFd, SwappedFileAfterTheCheckIsNotWhatIsLoaded)
{
	fs::path p = trusted_file("swap", "the module that was checked");
	ModuleFd m = ModuleFd::open_trusted(p.string());
	// Another file takes the name between the check and the load.
	fs::path evil = p.parent_path() / "evil.ko";
	write_file(evil, "another module");
	ASSERT_EQ(std::rename(evil.c_str(), p.c_str()), 0);
	ASSERT_EQ(read_file(p), "another module");
	EXPECT_EQ(kp::ctl::load_module(m, "transition_timeout=7", record_finit), 0);
	EXPECT_EQ(loaded_bytes, "the module that was checked");
	EXPECT_EQ(loaded_params, "transition_timeout=7");
}

TEST(ModuleFd, ReadModuleReadsTheOpenDescriptor)
{
	KPCTL_NEED_FIXTURES();
	fs::path d = scratch_dir("read-fd");
	fs::copy_file(fixtures().patch_ko, d / "p.ko");
	ModuleFd m = ModuleFd::open_trusted((d / "p.ko").string());
	// The path now names an ordinary module; what was opened is still the patch.
	fs::copy_file(fixtures().plain_ko, d / "plain.ko");
	ASSERT_EQ(std::rename((d / "plain.ko").c_str(), (d / "p.ko").c_str()), 0);
	EXPECT_EQ(kp::ctl::read_module(m).name, "kpctl_fixture");
}

TEST(ModuleFd, RootOnlyFileIsAccepted)
{
	if (!is_root())
		GTEST_SKIP() << "the files made here are owned by the user running the test";
	EXPECT_EQ(open_error(trusted_file("ok", "x")), Exit::ok);
	// Through a symbolic link in a root-only directory to a root-only file.
	fs::path p = trusted_file("ok-link", "x");
	fs::create_symlink(p, p.parent_path() / "link.ko");
	EXPECT_EQ(open_error(p.parent_path() / "link.ko"), Exit::ok);
}

TEST(ModuleFd, MissingOrNotAFile)
{
	fs::path d = scratch_dir("missing");
	EXPECT_EQ(open_error(d / "nope.ko"), Exit::file_missing);
	EXPECT_EQ(open_error(d / "no-dir" / "nope.ko"), Exit::file_missing);
	if (is_root()) {
		EXPECT_EQ(open_error(d), Exit::file_missing); // a directory
	}
}

TEST(ModuleFd, FileOwnedByAnotherUserIsRefused)
{
	fs::path p = trusted_file("owner", "x");
	ASSERT_EQ(chown(p.c_str(), nobody, nobody), 0);
	EXPECT_EQ(open_error(p), Exit::untrusted_module);
	EXPECT_NE(message_of(p).find("owned by uid 65534"), std::string::npos) << message_of(p);
	EXPECT_NE(message_of(p).find(p.string()), std::string::npos) << message_of(p);
}

TEST(ModuleFd, FileWritableByOthersIsRefused)
{
	if (!is_root())
		GTEST_SKIP() << "needs a root-owned file";
	fs::path p = trusted_file("mode", "x");
	chmod(p.c_str(), 0664);
	EXPECT_EQ(open_error(p), Exit::untrusted_module);
	chmod(p.c_str(), 0646);
	EXPECT_EQ(open_error(p), Exit::untrusted_module);
	EXPECT_NE(message_of(p).find("writable by others"), std::string::npos) << message_of(p);
}

TEST(ModuleFd, WritableOrForeignDirectoryIsRefused)
{
	if (!is_root())
		GTEST_SKIP() << "needs root-owned files";
	fs::path p = trusted_file("dir", "x");
	fs::path d = p.parent_path();
	for (mode_t mode : {01777, 0777, 0775, 01770}) {
		chmod(d.c_str(), mode);
		EXPECT_EQ(open_error(p), Exit::untrusted_module) << std::oct << mode;
		EXPECT_NE(message_of(p).find("directory " + d.string()), std::string::npos)
		        << message_of(p);
	}
	chmod(d.c_str(), 0755);
	ASSERT_EQ(chown(d.c_str(), nobody, nobody), 0);
	EXPECT_EQ(open_error(p), Exit::untrusted_module);
	// A directory higher up counts as well.
	ASSERT_EQ(chown(d.c_str(), 0, 0), 0);
	fs::path deep = d / "sub";
	fs::create_directories(deep);
	chmod(deep.c_str(), 0755);
	write_file(deep / "m.ko", "x");
	chmod((deep / "m.ko").c_str(), 0644);
	EXPECT_EQ(open_error(deep / "m.ko"), Exit::ok);
	chmod(d.c_str(), 01777);
	EXPECT_EQ(open_error(deep / "m.ko"), Exit::untrusted_module);
	chmod(d.c_str(), 0755);
}

TEST(ModuleFd, LinkFromATrustedPlaceIntoAWritableOneIsRefused)
{
	if (!is_root())
		GTEST_SKIP() << "needs root-owned files";
	fs::path p = trusted_file("link-target", "x");
	chmod(p.parent_path().c_str(), 01777);
	fs::path d = scratch_dir("link-from");
	chmod(d.c_str(), 0755);
	fs::create_symlink(p, d / "m.ko");
	EXPECT_EQ(open_error(d / "m.ko"), Exit::untrusted_module);
}

TEST(ModuleFd, CoreBesideThePatchInAWritableDirectoryIsRefused)
{
	if (!is_root())
		GTEST_SKIP() << "needs root-owned files";
	// Not a module at all: were it accepted, reading it would fail (exit 11) long
	// before anything reached the kernel.
	fs::path d = scratch_dir("core-beside");
	write_file(d / "kp_core.ko", "left here by another user");
	chmod((d / "kp_core.ko").c_str(), 0644);
	chmod(d.c_str(), 01777);
	fs::path sys = scratch_dir("core-beside-sysfs"); // kp_core is not loaded here
	setenv("KPCTL_SYSFS", sys.c_str(), 1);
	try {
		kp::ctl::ensure_core("", (d / "fix.ko").string());
		ADD_FAILURE() << "ensure_core accepted " << d / "kp_core.ko";
	} catch (const kp::ctl::Error &e) {
		EXPECT_EQ(e.code(), Exit::untrusted_module) << e.what();
	}
	unsetenv("KPCTL_SYSFS");
}

TEST(ModuleFd, LoadRefusesUntrustedFilesWithItsOwnExitCode)
{
	if (!is_root())
		GTEST_SKIP() << "needs root to get past the root check";
	// Not modules: an accepted file would be refused as not ELF (exit 5) instead.
	fs::path d = scratch_dir("cli-untrusted");
	write_file(d / "fix.ko", "not ELF");
	chmod((d / "fix.ko").c_str(), 0644);
	chmod(d.c_str(), 01777);
	fs::path sys = scratch_dir("cli-untrusted-sysfs");
	Result r = kp::ctl::test::kpctl({"load", (d / "fix.ko").string()},
	                                {{"KPCTL_SYSFS", sys.string()}});
	EXPECT_EQ(r.status, 15) << r.err;
	EXPECT_NE(r.err.find("refusing to load " + (d / "fix.ko").string()), std::string::npos)
	        << r.err;
	chmod(d.c_str(), 0755);
	ASSERT_EQ(chown((d / "fix.ko").c_str(), nobody, nobody), 0);
	r = kp::ctl::test::kpctl({"load", (d / "fix.ko").string()},
	                         {{"KPCTL_SYSFS", sys.string()}});
	EXPECT_EQ(r.status, 15) << r.err;
	EXPECT_NE(r.err.find("not root"), std::string::npos) << r.err;
	// The same file owned by root goes on to be read (and refused as not ELF).
	ASSERT_EQ(chown((d / "fix.ko").c_str(), 0, 0), 0);
	r = kp::ctl::test::kpctl({"load", (d / "fix.ko").string()},
	                         {{"KPCTL_SYSFS", sys.string()}});
	EXPECT_EQ(r.status, 5) << r.err;
}
