// Version logic of --kernel: Debian release names, package versions, SRC's version.
#include <gtest/gtest.h>

#include <array>

#include "error.h"
#include "kernel_release.h"
#include "kit/kit.h"

using namespace kp::build;
using kp::kit::TempDir;
using kp::kit::write_file;

namespace {

void make_src(const TempDir &d, const std::string &sublevel, const std::string &extra = "")
{
	write_file(d / "Makefile",
	           "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\n"
	           "SUBLEVEL = " +
	                   sublevel + "\nEXTRAVERSION =" + extra + "\nNAME = Curry Ramen\n");
}

std::string error_of(const std::function<void()> &f)
{
	try {
		f();
	} catch (const Error &e) {
		EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
		return e.what();
	}
	return "(no error)";
}

} // namespace

TEST(KernelRelease, DebianReleaseNames)
{
	// {release, series, abi, flavour}: 6.1's scheme <series>.0-<abi>-<flavour>, 6.12's
	// <series>.<sublevel>+deb<N>-<flavour> (no ABI number).
	const std::array<std::array<const char *, 4>, 4> good{{
	        {"6.1.0-57-cloud-amd64", "6.1", "57", "cloud-amd64"},
	        {"6.1.0-9-rt-amd64", "6.1", "9", "rt-amd64"},
	        {"6.12.118+deb12-cloud-amd64", "6.12", "", "cloud-amd64"},
	        {"6.12.43+deb13-rt-amd64", "6.12", "", "rt-amd64"},
	}};
	for (const auto &[name, series, abi, flavour] : good) {
		auto r = parse_debian_release(name);
		ASSERT_TRUE(r) << name;
		EXPECT_EQ(r->series, series) << name;
		EXPECT_EQ(r->abi, abi) << name;
		EXPECT_EQ(r->flavour, flavour) << name;
	}
	for (const char *bad : {"6.1.192",                          // kp's test kernel
	                        "6.18.44-fc-v782",                  // neither scheme
	                        "5.14.0-427.el9.x86_64",            // RHEL
	                        "6.1.0-57-cloud-amd64/../x",        // not a name
	                        "6.12.118+deb12",                   // no flavour
	                        "6.12.118+deb-cloud-amd64",         // no Debian release number
	                        "6.12.118+deb12-cloud-amd64/../x"}) // not a name
		EXPECT_FALSE(parse_debian_release(bad)) << bad;
	auto v = parse_package_version("6.12.118-1~deb12u1");
	EXPECT_EQ(v.upstream, "6.12.118");
	EXPECT_EQ(v.revision, "1~deb12u1");
}

TEST(KernelRelease, PackageVersions)
{
	EXPECT_EQ(parse_package_version("6.1.192-3").upstream, "6.1.192");
	EXPECT_EQ(parse_package_version("6.1.192-3").revision, "3");
	EXPECT_EQ(parse_package_version("1:6.1.9-1~bpo11+1").upstream, "6.1.9");
	EXPECT_EQ(parse_package_version("6.1.9").revision, "");
	EXPECT_EQ(changelog_version("linux (6.1.192-3) bookworm-security; urgency=high"),
	          "6.1.192-3");
	EXPECT_EQ(changelog_version("  * a fix"), "");
}

TEST(KernelRelease, SourceVersionFromMakefileAndChangelog)
{
	TempDir d;
	make_src(d, "192");
	auto v = read_source_version(d.path());
	EXPECT_EQ(v.upstream, "6.1.192");
	EXPECT_EQ(v.debian, "");
	// A marker file of earlier kp versions is not a version: only Debian's own files are.
	write_file(d / ".kp-debian-version", "6.1.192-2\n");
	EXPECT_EQ(read_source_version(d.path()).debian, "");
	write_file(d / "debian/changelog",
	           "linux (6.1.192-3) bookworm-security; urgency=high\n\n  * x\n");
	v = read_source_version(d.path());
	EXPECT_EQ(v.debian, "6.1.192-3");
	EXPECT_EQ(v.debian_from, d / "debian/changelog");
	make_src(d, "192", " -rc1");
	EXPECT_EQ(read_source_version(d.path()).upstream, "6.1.192-rc1");
}

TEST(KernelRelease, NotASourceTree)
{
	TempDir d;
	EXPECT_NE(error_of([&] { read_source_version(d.path()); }).find("no Makefile"),
	          std::string::npos);
	write_file(d / "Makefile", "all:\n\ttrue\n");
	EXPECT_NE(error_of([&] { read_source_version(d.path()); }).find("no VERSION line"),
	          std::string::npos);
	make_src(d, "192");
	write_file(d / "debian/changelog", "garbage\n");
	EXPECT_NE(error_of([&] { read_source_version(d.path()); }).find("not a changelog entry"),
	          std::string::npos);
}

TEST(KernelRelease, SourceMustMatchTheKernelsVersion)
{
	const std::string rel = "6.1.0-57-cloud-amd64";
	SourceVersion same{"6.1.192", "6.1.192-3", "SRC/debian/changelog"};
	EXPECT_EQ(error_of([&] { check_source_matches(same, "SRC", rel, "6.1.192-3"); }),
	          "(no error)");

	SourceVersion other_upstream{"6.1.190", "6.1.190-1", "x"};
	std::string e =
	        error_of([&] { check_source_matches(other_upstream, "SRC", rel, "6.1.192-3"); });
	EXPECT_NE(e.find("Linux 6.1.190"), std::string::npos) << e;
	EXPECT_NE(e.find("6.1.192-3"), std::string::npos) << e;

	// Same upstream, another Debian revision: different Debian patches, refused.
	SourceVersion other_rev{"6.1.192", "6.1.192-2", "SRC/debian/changelog"};
	e = error_of([&] { check_source_matches(other_rev, "SRC", rel, "6.1.192-3"); });
	EXPECT_NE(e.find("Debian 6.1.192-2"), std::string::npos) << e;
	EXPECT_NE(e.find("is 6.1.192-3"), std::string::npos) << e;

	SourceVersion unknown{"6.1.192", "", ""};
	e = error_of([&] { check_source_matches(unknown, "SRC", rel, "6.1.192-3"); });
	EXPECT_NE(e.find("has no Debian version"), std::string::npos) << e;
	EXPECT_NE(e.find("run kp-build without --src"), std::string::npos) << e;
}
