#include "target_kernel.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "debian_packages.h"
#include "error.h"
#include "kernel_info.h"
#include "kernel_release.h"
#include "support/files.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {

std::string existing(const std::string &path)
{
	return fs::exists(path) ? path : std::string{};
}

std::string join(const std::string &root, const std::string &path)
{
	return (root.empty() || root == "/") ? path : root + path;
}

// The installed files for the release below root (or below a package's unpacked root).
void fill_from_root(TargetKernel &t, const std::string &root)
{
	const std::string &r = t.release;
	if (t.config.empty())
		t.config = existing(join(root, "/boot/config-" + r));
	if (t.vmlinuz.empty())
		t.vmlinuz = existing(join(root, "/boot/vmlinuz-" + r));
	for (const char *dir : {"/boot/", "/usr/lib/debug/boot/"}) {
		std::string map = join(root, dir + ("System.map-" + r));
		if (t.system_map.empty() && fs::exists(map) && !is_stub_system_map(map))
			t.system_map = map;
	}
	std::string mods = join(root, "/lib/modules/" + r);
	if (t.modules.empty() && fs::exists(mods + "/modules.order"))
		t.modules = mods;
	if (t.symvers.empty())
		t.symvers = existing(join(root, "/usr/src/linux-headers-" + r + "/Module.symvers"));
	if (t.vmlinux.empty())
		t.vmlinux = existing(join(root, "/usr/lib/debug/boot/vmlinux-" + r));
	if (t.vmlinux.empty())
		t.vmlinux = existing(join(root, "/usr/lib/debug/lib/modules/" + r + "/vmlinux"));
}

std::vector<std::string> missing(const TargetKernel &t, bool need_vmlinux)
{
	std::vector<std::string> m;
	if (need_vmlinux && t.vmlinux.empty())
		m.push_back("vmlinux");
	if (t.config.empty())
		m.push_back("config");
	if (t.symvers.empty())
		m.push_back("Module.symvers");
	if (t.modules.empty())
		m.push_back("modules");
	return m;
}

std::string list(const std::vector<std::string> &items)
{
	std::string s;
	for (const auto &i : items)
		s += (s.empty() ? "" : ", ") + i;
	return s;
}

void apply_overrides(TargetKernel &t, const TargetRequest &q)
{
	auto must_exist = [](const std::string &path, const char *opt) {
		if (!path.empty() && !fs::exists(path))
			throw Error(std::string(opt) + " " + path + ": no such file or directory");
		return path;
	};
	t.config = must_exist(q.config, "--config");
	t.symvers = must_exist(q.symvers, "--symvers");
	t.modules = must_exist(q.modules, "--modules");
	std::string v = must_exist(q.vmlinux, "--vmlinux");
	if (!v.empty()) {
		char head[4] = {};
		std::ifstream(v, std::ios::binary).read(head, sizeof head);
		(std::string(head, 4) == "\x7f"
		                         "ELF"
		         ? t.vmlinux
		         : t.system_map) = v;
	}
}

// The package version of the release's image: installed, else the newest in the archive.
std::string image_version(const std::string &release, DebianArchive &archive, bool installed,
                          std::string &package)
{
	const std::vector<std::string> names{"linux-image-" + release + "-unsigned",
	                                     "linux-image-" + release};
	for (const auto &n : names) {
		std::string v = installed ? archive.installed_version(n) : std::string{};
		if (!installed) {
			auto all = archive.available_versions(n);
			v = all.empty() ? std::string{} : all.front();
		}
		if (!v.empty()) {
			package = n;
			return v;
		}
	}
	return {};
}

void fetch_debian(TargetKernel &t, const std::string &image, DebianArchive &archive,
                  bool need_vmlinux)
{
	std::string headers = "linux-headers-" + t.release;
	auto hv = archive.available_versions(headers);
	if (std::find(hv.begin(), hv.end(), t.package_version) == hv.end())
		throw Error("the Debian archive has no " + headers + " " + t.package_version +
		            " (needed for Module.symvers of " + t.release + ")");
	std::string img_root = archive.fetch(image, t.package_version);
	std::string hdr_root = archive.fetch(headers, t.package_version);
	fill_from_root(t, img_root);
	fill_from_root(t, hdr_root);
	if (need_vmlinux && t.vmlinux.empty()) {
		const std::string dbg = "linux-image-" + t.release + "-dbg";
		const std::string dir = "./usr/lib/debug/boot/";
		fill_from_root(t, archive.fetch(dbg, t.package_version,
		                                {dir + "vmlinux-" + t.release,
		                                 dir + "System.map-" + t.release},
		                                true));
	}
	t.origin = "Debian packages " + image + " and " + headers + " " + t.package_version +
	           " (unpacked in " + fs::path(img_root).parent_path().string() + ")";
}

std::string source_package(const TargetKernel &t)
{
	auto rel = parse_debian_release(t.release);
	return "linux-source-" + (rel ? rel->series : std::string("?"));
}

// SRC is the kernel's source: its Makefile's version, then its Debian version (from
// debian/changelog, else from its files against Debian's source of the kernel's version).
void check_versions(TargetKernel &t, const TargetRequest &q, DebianArchive *archive)
{
	if (q.src.empty())
		return;
	t.src = q.src;
	SourceVersion sv = read_source_version(q.src);
	if (!t.package_version.empty()) {
		if (sv.debian.empty() && archive &&
		    sv.upstream == parse_package_version(t.package_version).upstream) {
			sv.debian = archive->identify_source(q.src, source_package(t),
			                                     t.package_version);
			sv.debian_from = "its files, identical to Debian's " + source_package(t) +
			                 " " + sv.debian;
		}
		check_source_matches(sv, q.src, t.release, t.package_version);
		t.src_debian = sv.debian;
		t.src_from = sv.debian_from;
		return;
	}
	std::string up = t.config.empty() ? std::string{} : config_upstream_version(t.config);
	if (!up.empty() && up != sv.upstream)
		throw Error("source " + q.src + " is Linux " + sv.upstream + " but kernel " +
		            t.release + "'s config " + t.config + " is Linux " + up);
}

// No SRC: Debian's source of the kernel's version, fetched and extracted into the cache.
void fetch_source(TargetKernel &t, const TargetRequest &q, DebianArchive *archive)
{
	if (!q.src.empty() || !q.need_source)
		return;
	if (t.package_version.empty() || !archive)
		throw Error("kernel " + t.release +
		            " is not a Debian package's: give --src, the source tree it was built "
		            "from");
	const std::string pkg = source_package(t);
	auto versions = archive->available_versions(pkg);
	if (std::find(versions.begin(), versions.end(), t.package_version) == versions.end() &&
	    archive->installed_version(pkg) != t.package_version)
		throw Error("the Debian archive has no " + pkg + " " + t.package_version +
		            ", the source of " + t.release + ": give --src");
	t.src = archive->source_tree(pkg, t.package_version);
	t.src_in_use = std::make_shared<InUse>(fs::path(t.src).parent_path().string());
	t.src_debian = t.package_version;
	t.src_from = "extracted by kp-build from Debian's " + pkg + " " + t.package_version;
}

} // namespace

std::string module_order_path(const std::string &modules_order, const std::string &name)
{
	std::istringstream in(modules_order);
	std::string line;
	while (std::getline(in, line)) {
		std::string base = line.substr(line.rfind('/') + 1);
		std::string stem = base.substr(0, base.find('.'));
		std::replace(stem.begin(), stem.end(), '-', '_');
		if (!line.empty() && stem == name)
			return line;
	}
	return {};
}

bool is_stub_system_map(const std::string &path)
{
	struct stat st {};
	if (stat(path.c_str(), &st) != 0 || st.st_size > 4096)
		return false;
	return take(kp::support::read_text_file(path)).find("The real System.map is in") !=
	       std::string::npos;
}

std::string config_upstream_version(const std::string &config_path)
{
	std::istringstream in(take(kp::support::read_text_file(config_path)));
	std::string line;
	static const std::regex re(R"(^# Linux/\S+ (\S+) Kernel Configuration)");
	for (int n = 0; std::getline(in, line) && n < 10; ++n) {
		std::smatch m;
		if (std::regex_search(line, m, re))
			return m[1];
	}
	return {};
}

TargetKernel resolve_target(const TargetRequest &q, DebianArchive *archive)
{
	TargetKernel t;
	t.release = q.release;
	if (t.release.empty() || t.release.find('/') != std::string::npos)
		throw Error("--kernel '" + t.release + "' is not a kernel release (uname -r)");
	apply_overrides(t, q);
	bool overridden = !q.config.empty() || !q.symvers.empty() || !q.modules.empty();
	fill_from_root(t, q.root);
	bool debian = parse_debian_release(t.release).has_value();
	std::string image;
	if (debian && archive)
		t.package_version = image_version(t.release, *archive, true, image);
	t.origin = overridden ? "overrides and installed files" : "installed files";
	if (missing(t, q.need_vmlinux).empty()) {
		check_versions(t, q, archive);
		fetch_source(t, q, archive);
		return t;
	}
	if (!debian)
		throw Error(
		        "kernel " + t.release + " is not a Debian release (<series>.0-<abi>-" +
		        "<flavour> or <series>.<sublevel>+deb<N>-<flavour>) and its " +
		        list(missing(t, q.need_vmlinux)) +
		        " are not installed: give --config, --symvers, --vmlinux and --modules");
	if (!archive)
		throw Error("kernel " + t.release + ": " + list(missing(t, q.need_vmlinux)) +
		            " not installed");
	if (t.package_version.empty())
		t.package_version = image_version(t.release, *archive, false, image);
	if (t.package_version.empty())
		throw Error("the Debian archive has no linux-image-" + t.release +
		            "-unsigned (nor linux-image-" + t.release + ")");
	check_versions(t, q, archive);
	fetch_debian(t, image, *archive, q.need_vmlinux);
	if (!missing(t, q.need_vmlinux).empty())
		throw Error("kernel " + t.release + ": Debian's packages lack " +
		            list(missing(t, q.need_vmlinux)));
	fetch_source(t, q, archive);
	return t;
}

std::string TargetKernel::describe() const
{
	auto line = [](const char *k, const std::string &v) {
		return std::string(k) + ": " + (v.empty() ? "(none)" : v) + "\n";
	};
	return line("release", release) + line("origin", origin) +
	       line("package version", package_version) + line("source", src) +
	       line("source version",
	            src_debian.empty() ? src_debian : src_debian + " (" + src_from + ")") +
	       line("config", config) + line("Module.symvers", symvers) + line("modules", modules) +
	       line("vmlinux", vmlinux) + line("System.map", system_map) + line("vmlinuz", vmlinuz);
}

} // namespace kp::build
