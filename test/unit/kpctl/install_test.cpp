// kpctl install, uninstall, list --installed and load --all's refusals (issue 26), on the
// host: every case here is refused or changes only a scratch state folder
// ($KPCTL_STATE_DIR); nothing is loaded (the patches are for the test kernel, and the
// host's release has none installed).  Loading at boot is tested in QEMU
// (test/integration/test_persistence.py).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sstream>

#include "commands/commands.h"
#include "fixtures.h"

using namespace kp::ctl::test;

namespace {

std::string host_release()
{
	struct utsname u;
	uname(&u);
	return u.release;
}

fs::path core_ko()
{
	return fs::path(KPCTL_REPO) / "kmod/core/kp_core.ko";
}

struct State {
	fs::path dir = scratch_dir("state");
	std::map<std::string, std::string> env() const { return {{"KPCTL_STATE_DIR", dir}}; }
	fs::path release_dir() const { return dir / test_kernel_release(); }
	std::string order() const { return read_file(release_dir() / "order"); }
	Result install(const fs::path &ko, const fs::path &core = core_ko()) const
	{
		return kpctl({"install", ko, "--core", core, "--release", test_kernel_release()},
		             env());
	}
	Result list() const
	{
		return kpctl({"list", "--installed", "--release", test_kernel_release()}, env());
	}
};

// The non-comment lines of an order file.
std::vector<std::string> names(const std::string &order)
{
	std::vector<std::string> n;
	std::istringstream in(order);
	for (std::string l; std::getline(in, l);)
		if (!l.empty() && l[0] != '#')
			n.push_back(l);
	return n;
}

void expect_one_error(const Result &r, int status, const std::vector<std::string> &mentions)
{
	EXPECT_EQ(r.status, status) << r.out << r.err;
	auto lines = r.err_lines();
	ASSERT_EQ(lines.size(), 1u) << r.err;
	EXPECT_EQ(lines[0].rfind("kpctl: error: ", 0), 0u) << lines[0];
	for (const auto &m : mentions)
		EXPECT_NE(lines[0].find(m), std::string::npos) << m << " not in: " << lines[0];
}

} // namespace

TEST(Install, BootDisabledByTheKernelCommandLine)
{
	using kp::ctl::boot_disabled;
	EXPECT_TRUE(boot_disabled("BOOT_IMAGE=/vmlinuz ro kp.enable=0 quiet\n"));
	EXPECT_TRUE(boot_disabled("kp.enable=off"));
	EXPECT_FALSE(boot_disabled("ro quiet\n"));
	EXPECT_FALSE(boot_disabled("kp.enable=1"));
	EXPECT_FALSE(boot_disabled("xkp.enable=0 kpatch.enable=0"));
	EXPECT_FALSE(boot_disabled("kp.enable=0 kp.enable=1")); // the last one counts
}

TEST(Install, RefusesAModuleForAnotherReleaseNamingBoth)
{
	KPCTL_NEED_FIXTURES();
	if (host_release() == test_kernel_release())
		GTEST_SKIP() << "the host runs the test kernel";
	State s;
	// No --release: the running kernel's, which the patch is not built for.
	Result r = kpctl({"install", fixtures().patch_ko, "--core", core_ko()}, s.env());
	expect_one_error(r, 7,
	                 {test_kernel_release(), host_release(), "nothing was installed",
	                  "--release " + test_kernel_release()});
	// --release another than the module's.
	r = kpctl(
	        {"install", fixtures().patch_ko, "--core", core_ko(), "--release", host_release()},
	        s.env());
	expect_one_error(r, 7, {test_kernel_release(), host_release()});
	EXPECT_TRUE(fs::is_empty(s.dir)) << "a refused install wrote to the state folder";
}

TEST(Install, RefusesWhatIsNoPatchOrNoCore)
{
	KPCTL_NEED_FIXTURES();
	ASSERT_TRUE(fs::exists(core_ko())) << core_ko() << " not built: make modules";
	State s;
	expect_one_error(s.install(fixtures().plain_ko), 6, {fixtures().plain_ko.string()});
	expect_one_error(s.install(fixtures().patch_ko, fixtures().plain_ko), 11,
	                 {fixtures().plain_ko.string(), "not the core module kp_core"});
	Result r = kpctl({"install", fixtures().patch_ko, "--release", test_kernel_release()},
	                 s.env()); // no kp_core.ko beside the fixture
	expect_one_error(r, 10, {"kp_core.ko", "--core"});
	EXPECT_TRUE(fs::is_empty(s.dir));
}

TEST(Install, InstallsOnceInOrderAndASecondInstallChangesNothing)
{
	KPCTL_NEED_FIXTURES();
	ASSERT_TRUE(fs::exists(core_ko())) << core_ko() << " not built: make modules";
	State s;
	Result r = s.install(fixtures().patch_ko);
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("patch kpctl_fixture installed for " + test_kernel_release()),
	          std::string::npos)
	        << r.out;
	fs::path p = s.release_dir() / "kpctl_fixture";
	EXPECT_EQ(read_file(p / "kpctl_fixture.ko"), read_file(fixtures().patch_ko));
	EXPECT_EQ(read_file(p / "kp_core.ko"), read_file(core_ko()));
	// kpctl load trusts modules only in folders no one but root can write.
	struct stat st;
	ASSERT_EQ(stat((p / "kpctl_fixture.ko").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0644u);
	ASSERT_EQ(stat(p.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0755u);
	EXPECT_EQ(names(s.order()), std::vector<std::string>{"kpctl_fixture"});
	auto before = fs::last_write_time(p / "kpctl_fixture.ko");

	r = s.install(fixtures().patch_ko);
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("already installed (unchanged)"), std::string::npos) << r.out;
	EXPECT_EQ(names(s.order()), std::vector<std::string>{"kpctl_fixture"});
	EXPECT_EQ(fs::last_write_time(p / "kpctl_fixture.ko"), before);

	r = s.list();
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("1. kpctl_fixture (module build ID "), std::string::npos) << r.out;
	EXPECT_EQ(r.out.find("PROBLEM"), std::string::npos) << r.out;
	r = kpctl({"list", "--installed", "--json", "--release", test_kernel_release()}, s.env());
	ASSERT_EQ(r.status, 0) << r.err;
	auto j = nlohmann::json::parse(r.out);
	ASSERT_EQ(j["patches"].size(), 1u);
	EXPECT_EQ(j["patches"][0]["name"], "kpctl_fixture");
	EXPECT_EQ(j["patches"][0]["order"], 1);
	EXPECT_TRUE(j["problems"].empty());

	// Another build of the same patch replaces it in its place.
	r = s.install(fixtures().wrong_id_ko);
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("replacing"), std::string::npos) << r.out;
	EXPECT_EQ(read_file(p / "kpctl_fixture.ko"), read_file(fixtures().wrong_id_ko));
	EXPECT_EQ(names(s.order()), std::vector<std::string>{"kpctl_fixture"});
	for (const auto &e : fs::directory_iterator(s.release_dir()))
		EXPECT_TRUE(e.path().filename() == "kpctl_fixture" ||
		            e.path().filename() == "order" || e.path().filename() == ".lock")
		        << "left behind: " << e.path();

	r = kpctl({"uninstall", "kpctl_fixture", "--release", test_kernel_release()}, s.env());
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_FALSE(fs::exists(p));
	EXPECT_TRUE(names(s.order()).empty());
	expect_one_error(
	        kpctl({"uninstall", "kpctl_fixture", "--release", test_kernel_release()}, s.env()),
	        9, {"kpctl_fixture", "not installed", test_kernel_release()});
}

TEST(Install, ADamagedStateFolderIsNamedAndNothingElseLost)
{
	KPCTL_NEED_FIXTURES();
	ASSERT_TRUE(fs::exists(core_ko())) << core_ko() << " not built: make modules";
	State s;
	ASSERT_EQ(s.install(fixtures().patch_ko).status, 0);
	fs::path rd = s.release_dir();
	// Damage: a line that is no module name, a listed patch whose files are gone, a patch
	// folder the order does not list.
	write_file(rd / "order", s.order() + "not a name!\nkp_gone\n");
	fs::create_directories(rd / "kp_stray");
	Result r = s.list();
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("1. kpctl_fixture"), std::string::npos) << r.out;
	for (const std::string &m :
	     {(rd / "order").string() + " line 3: 'not a name!' is not a module name",
	      (rd / "order").string() + " line 4: patch kp_gone is missing " +
	              (rd / "kp_gone/kp_gone.ko").string(),
	      (rd / "kp_stray").string() + " is a patch folder"})
		EXPECT_NE(r.out.find("PROBLEM: " + m), std::string::npos) << m << "\n" << r.out;

	// Installing again keeps every line, even those kpctl cannot read.
	std::string order = s.order();
	r = s.install(fixtures().wrong_id_ko);
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(s.order(), order);
	EXPECT_NE(r.err.find("kp_stray"), std::string::npos) << r.err; // warned, named

	// A file where a patch folder belongs: named, nothing written.
	write_file(rd / "kp_file", "x");
	fs::rename(rd / "kpctl_fixture", rd / "kpctl_fixture.saved");
	write_file(rd / "kpctl_fixture", "not a folder");
	expect_one_error(s.install(fixtures().patch_ko), 17,
	                 {(rd / "kpctl_fixture").string(), "not a patch folder"});
	EXPECT_EQ(s.order(), order);
	EXPECT_EQ(read_file(rd / "kpctl_fixture"), "not a folder");
}

TEST(Install, CommandLine)
{
	expect_one_error(kpctl({"load", "x.ko", "--all"}), 2, {});
	expect_one_error(kpctl({"load", "x.ko", "--boot"}), 2, {"--all"});
	expect_one_error(kpctl({"load"}), 2, {"FILE.ko or --all"});
	expect_one_error(kpctl({"install"}), 2, {"FILE"});
	expect_one_error(kpctl({"uninstall", "a/b"}), 2, {"not a patch name"});
	expect_one_error(kpctl({"load", "--all"}, {}, true), 3, {"root"});
}

TEST(Install, LoadAllAtBootHonoursKpEnable0)
{
	State s;
	fs::path cmdline = s.dir / "cmdline";
	write_file(cmdline, "BOOT_IMAGE=/vmlinuz root=/dev/vda1 kp.enable=0\n");
	auto env = s.env();
	env["KPCTL_CMDLINE"] = cmdline;
	Result r = kpctl({"load", "--all", "--boot"}, env);
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("kp.enable=0 on the kernel command line: no installed patch loaded"),
	          std::string::npos)
	        << r.out;
	// Without the option: the host's release has nothing installed here.
	write_file(cmdline, "BOOT_IMAGE=/vmlinuz root=/dev/vda1\n");
	r = kpctl({"load", "--all", "--boot"}, env);
	if (geteuid() != 0) {
		expect_one_error(r, 3, {"root"});
		return;
	}
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("no patch installed for " + host_release()), std::string::npos)
	        << r.out;
}
