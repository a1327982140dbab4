#include "kernel_release.h"

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "error.h"
#include "kernel_info.h"
#include "support/files.h"

namespace kp::build {
namespace fs = std::filesystem;

std::optional<DebianRelease> parse_debian_release(const std::string &release)
{
	// 6.1's scheme: <series>.0-<abi>-<flavour>; 6.12's: <series>.<sublevel>+deb<N>-<flavour>.
	static const std::regex abi(R"(^([0-9]+\.[0-9]+)\.0-([0-9]+)-([a-z0-9][a-z0-9-]*)$)");
	static const std::regex sublevel(
	        R"(^([0-9]+\.[0-9]+)\.[0-9]+\+deb[0-9]+-([a-z0-9][a-z0-9-]*)$)");
	std::smatch m;
	if (std::regex_match(release, m, abi))
		return DebianRelease{m[1], m[2], m[3]};
	if (std::regex_match(release, m, sublevel))
		return DebianRelease{m[1], "", m[2]};
	return std::nullopt;
}

PackageVersion parse_package_version(const std::string &version)
{
	std::string v = version;
	auto colon = v.find(':');
	if (colon != std::string::npos)
		v = v.substr(colon + 1);
	auto dash = v.rfind('-');
	if (dash == std::string::npos)
		return {v, ""};
	return {v.substr(0, dash), v.substr(dash + 1)};
}

std::string changelog_version(const std::string &first_line)
{
	static const std::regex re(R"(^[a-z0-9][a-z0-9.+-]* \(([^() ]+)\) )");
	std::smatch m;
	if (!std::regex_search(first_line, m, re))
		return {};
	return m[1];
}

namespace {

std::string first_line(const std::string &text)
{
	std::string line = text.substr(0, text.find('\n'));
	while (!line.empty() && (line.back() == ' ' || line.back() == '\r'))
		line.pop_back();
	return line;
}

std::string makefile_version(const std::string &src)
{
	std::string path = src + "/Makefile";
	if (!fs::exists(path))
		throw Error(src + " is not a kernel source tree (no Makefile)");
	std::istringstream in(take(kp::support::read_text_file(path)));
	std::map<std::string, std::string> vars;
	std::string line;
	static const std::regex re(R"(^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION) *= *(\S*)\s*$)");
	for (int n = 0; std::getline(in, line) && n < 40; ++n) {
		std::smatch m;
		if (std::regex_match(line, m, re))
			vars.emplace(m[1], m[2]);
	}
	for (const char *k : {"VERSION", "PATCHLEVEL", "SUBLEVEL"})
		if (vars[k].empty())
			throw Error(path + ": no " + k + " line: not a kernel Makefile");
	return vars["VERSION"] + "." + vars["PATCHLEVEL"] + "." + vars["SUBLEVEL"] +
	       vars["EXTRAVERSION"];
}

} // namespace

SourceVersion read_source_version(const std::string &src)
{
	SourceVersion v;
	v.upstream = makefile_version(src);
	std::string changelog = src + "/debian/changelog";
	if (fs::exists(changelog)) {
		v.debian =
		        changelog_version(first_line(take(kp::support::read_text_file(changelog))));
		if (v.debian.empty())
			throw Error(changelog + ": first line is not a changelog entry");
		v.debian_from = changelog;
	}
	return v;
}

void check_source_matches(const SourceVersion &src, const std::string &src_path,
                          const std::string &release, const std::string &package_version)
{
	PackageVersion kernel = parse_package_version(package_version);
	std::string kernel_says = "kernel " + release + " is " + package_version;
	if (src.upstream != kernel.upstream)
		throw Error("source " + src_path + " is Linux " + src.upstream + " but " +
		            kernel_says + " (Linux " + kernel.upstream + ")");
	if (src.debian.empty())
		throw Error(
		        "source " + src_path + " (Linux " + src.upstream +
		        ") has no Debian version (no debian/changelog, and its files were not "
		        "compared with Debian's source) but " +
		        kernel_says +
		        ": cannot tell whether it is that kernel's source; run kp-build without "
		        "--src to use Debian's source of " +
		        package_version);
	if (src.debian != package_version)
		throw Error("source " + src_path + " is Debian " + src.debian + " (" +
		            src.debian_from + ") but " + kernel_says);
}

} // namespace kp::build
