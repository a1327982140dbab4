// Versions of a target kernel release and of the source tree a patch is built from: Debian's
// release names ("6.1.0-57-cloud-amd64"), package versions ("6.1.192-3") and SRC's own version
// (its Makefile, its Debian changelog), and the check that SRC is the source of the release.
#pragma once
#include <optional>
#include <string>

namespace kp::build {

// "6.1.0-57-cloud-amd64" -> {"6.1", "57", "cloud-amd64"}; "6.12.118+deb12-cloud-amd64" ->
// {"6.12", "", "cloud-amd64"}; nullopt for a release that follows neither of Debian's schemes
// (<series>.0-<abi>-<flavour>, <series>.<sublevel>+deb<N>-<flavour>).
struct DebianRelease {
	std::string series;
	std::string abi; // empty in the +deb<N> scheme (the sublevel plays its part)
	std::string flavour;
};
std::optional<DebianRelease> parse_debian_release(const std::string &release);

// "6.1.192-3" -> {"6.1.192", "3"}; an epoch ("1:") is dropped; no revision -> {"6.1.192", ""}.
struct PackageVersion {
	std::string upstream;
	std::string revision;
};
PackageVersion parse_package_version(const std::string &version);

// SRC's version. upstream: VERSION.PATCHLEVEL.SUBLEVEL plus EXTRAVERSION of SRC/Makefile.
// debian: the version of debian/changelog's first entry (a tree from `apt-get source`); empty
// when SRC has none (a tree extracted from the linux-source tarball, a git tree): its files
// then tell (DebianArchive::identify_source).
struct SourceVersion {
	std::string upstream;
	std::string debian;
	std::string debian_from; // the file debian came from
};
SourceVersion read_source_version(const std::string &src);

// "linux (6.1.192-3) bookworm-security; urgency=high" -> "6.1.192-3"; empty when not a
// changelog entry line.
std::string changelog_version(const std::string &first_line);

// Throws Error (one line naming both versions) unless SRC is the source of a kernel whose
// package version is package_version: same upstream version, same Debian version.
void check_source_matches(const SourceVersion &src, const std::string &src_path,
                          const std::string &release, const std::string &package_version);

} // namespace kp::build
