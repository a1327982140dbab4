// --kernel RELEASE resolution: installed files first, then Debian's packages; the error paths
// (fake package dirs and a fake archive; no network).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "debian_packages.h"
#include "error.h"
#include "kit/kit.h"
#include "target_kernel.h"

using namespace kp::build;
using kp::kit::TempDir;
using kp::kit::write_file;

namespace {

const std::string kRel = "6.1.0-7-cloud-amd64";
const std::string kStub =
        "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n";

// A kernel's files below root, as Debian's packages lay them out.
void make_image(const std::string &root, const std::string &rel)
{
	write_file(root + "/boot/config-" + rel,
	           "#\n# Linux/x86 6.1.30 Kernel Configuration\n#\nCONFIG_X=y\n");
	write_file(root + "/boot/vmlinuz-" + rel, "MZ");
	write_file(root + "/boot/System.map-" + rel, kStub);
	write_file(root + "/lib/modules/" + rel + "/modules.order", "kernel/a.ko\n");
}

void make_headers(const std::string &root, const std::string &rel)
{
	write_file(root + "/usr/src/linux-headers-" + rel + "/Module.symvers",
	           "0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n");
}

void make_src(const std::string &src, const std::string &sublevel, const std::string &debian)
{
	write_file(src + "/Makefile",
	           "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = " + sublevel + "\nEXTRAVERSION =\n");
	if (!debian.empty()) // a tree from `apt-get source`
		write_file(src + "/debian/changelog",
		           "linux (" + debian + ") bookworm; urgency=medium\n\n  * x\n");
}

// Packages as directories below dir: "<package>_<version>/".
class FakeArchive : public DebianArchive {
public:
	explicit FakeArchive(std::string dir) : dir_(std::move(dir)) {}
	std::map<std::string, std::string> installed;
	std::map<std::string, std::vector<std::string>> available;
	std::vector<std::string> fetched;
	std::string unreachable; // when set, every archive call fails with this
	// identify_source: the version the tree's files are, or (empty) the refusal `differs`.
	std::string files_are;
	std::string differs = "SRC is not Debian's linux-source-6.1: 1 file(s) differ (a.c)";
	std::vector<std::string> identified;

	std::string installed_version(const std::string &p) override
	{
		return installed.count(p) ? installed[p] : "";
	}
	std::vector<std::string> available_versions(const std::string &p) override
	{
		if (!unreachable.empty())
			throw Error(unreachable);
		return available.count(p) ? available[p] : std::vector<std::string>{};
	}
	std::string fetch(const std::string &p, const std::string &v,
	                  const std::vector<std::string> &, bool) override
	{
		if (!unreachable.empty())
			throw Error(unreachable);
		fetched.push_back(p + "=" + v);
		return dir_ + "/" + p + "_" + v;
	}
	std::string source_tree(const std::string &p, const std::string &v) override
	{
		fetched.push_back("source " + p + "=" + v);
		std::string tree = dir_ + "/sources/" + p + "_" + v + "/" + p;
		std::filesystem::create_directories(tree);
		return tree;
	}
	std::string identify_source(const std::string &src, const std::string &p,
	                            const std::string &v) override
	{
		identified.push_back(src + " " + p + "=" + v);
		if (files_are.empty())
			throw Error(differs);
		return files_are;
	}

private:
	std::string dir_;
};

std::string error_of(const TargetRequest &q, DebianArchive *a)
{
	try {
		resolve_target(q, a);
	} catch (const Error &e) {
		EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
		return e.what();
	}
	return "(no error)";
}

bool contains(const std::string &s, const std::string &part)
{
	return s.find(part) != std::string::npos;
}

struct Fixture : ::testing::Test {
	TempDir d;
	std::string root = d / "root", pkgs = d / "pkgs", src = d / "src";
	FakeArchive archive{pkgs};
	TargetRequest req()
	{
		TargetRequest q;
		q.release = kRel;
		q.root = root;
		q.src = src;
		return q;
	}
	void publish(const std::string &version)
	{
		archive.available["linux-image-" + kRel + "-unsigned"] = {version};
		archive.available["linux-headers-" + kRel] = {version};
		make_image(pkgs + "/linux-image-" + kRel + "-unsigned_" + version, kRel);
		make_headers(pkgs + "/linux-headers-" + kRel + "_" + version, kRel);
	}
};

} // namespace

TEST_F(Fixture, InstalledFilesComeFirst)
{
	make_image(root, kRel);
	make_headers(root, kRel);
	write_file(root + "/usr/lib/debug/boot/vmlinux-" + kRel, "\x7f"
	                                                         "ELF");
	archive.installed["linux-image-" + kRel + "-unsigned"] = "6.1.30-1";
	make_src(src, "30", "6.1.30-1");
	TargetKernel t = resolve_target(req(), &archive);
	EXPECT_EQ(t.config, root + "/boot/config-" + kRel);
	EXPECT_EQ(t.symvers, root + "/usr/src/linux-headers-" + kRel + "/Module.symvers");
	EXPECT_EQ(t.modules, root + "/lib/modules/" + kRel);
	EXPECT_EQ(t.vmlinux, root + "/usr/lib/debug/boot/vmlinux-" + kRel);
	EXPECT_EQ(t.system_map, ""); // Debian's stub is not a System.map
	EXPECT_EQ(t.package_version, "6.1.30-1");
	EXPECT_TRUE(archive.fetched.empty());
}

TEST_F(Fixture, DebianPackagesWhenNothingIsInstalled)
{
	publish("6.1.30-2");
	make_src(src, "30", "6.1.30-2");
	TargetKernel t = resolve_target(req(), &archive);
	std::string img = pkgs + "/linux-image-" + kRel + "-unsigned_6.1.30-2";
	EXPECT_EQ(t.config, img + "/boot/config-" + kRel);
	EXPECT_EQ(t.vmlinuz, img + "/boot/vmlinuz-" + kRel);
	EXPECT_EQ(t.modules, img + "/lib/modules/" + kRel);
	EXPECT_EQ(t.symvers, pkgs + "/linux-headers-" + kRel + "_6.1.30-2/usr/src/linux-headers-" +
	                             kRel + "/Module.symvers");
	EXPECT_EQ(t.package_version, "6.1.30-2");
	EXPECT_TRUE(contains(t.origin, "Debian packages")) << t.origin;
	EXPECT_EQ(archive.fetched.size(), 2u);
}

TEST_F(Fixture, VmlinuxComesFromTheDbgPackageOnlyWhenNeeded)
{
	publish("6.1.30-2");
	make_src(src, "30", "6.1.30-2");
	std::string dbg = pkgs + "/linux-image-" + kRel + "-dbg_6.1.30-2";
	write_file(dbg + "/usr/lib/debug/boot/vmlinux-" + kRel, "\x7f"
	                                                        "ELF");
	write_file(dbg + "/usr/lib/debug/boot/System.map-" + kRel, "ffffffff81000000 T _stext\n");
	TargetKernel t = resolve_target(req(), &archive);
	EXPECT_EQ(t.vmlinux, "");
	EXPECT_EQ(archive.fetched.size(), 2u);
	archive.fetched.clear();
	TargetRequest q = req();
	q.need_vmlinux = true;
	t = resolve_target(q, &archive);
	EXPECT_EQ(t.vmlinux, dbg + "/usr/lib/debug/boot/vmlinux-" + kRel);
	EXPECT_EQ(t.system_map, dbg + "/usr/lib/debug/boot/System.map-" + kRel);
	ASSERT_EQ(archive.fetched.size(), 3u);
	EXPECT_EQ(archive.fetched[2], "linux-image-" + kRel + "-dbg=6.1.30-2");
}

TEST_F(Fixture, SourceOfAnotherDebianRevisionIsRefusedBeforeAnyDownload)
{
	publish("6.1.30-2");
	make_src(src, "30", "6.1.30-1");
	std::string e = error_of(req(), &archive);
	EXPECT_TRUE(contains(e, "Debian 6.1.30-1") && contains(e, "6.1.30-2")) << e;
	EXPECT_TRUE(archive.fetched.empty());
	make_src(src, "29", "6.1.29-1");
	e = error_of(req(), &archive);
	EXPECT_TRUE(contains(e, "Linux 6.1.29") && contains(e, "Linux 6.1.30")) << e;
	EXPECT_TRUE(archive.fetched.empty());
}

TEST_F(Fixture, TarballTreeIsIdentifiedByItsFiles)
{
	publish("6.1.30-2");
	make_src(src, "30", ""); // no debian/changelog: extracted from the tarball, or git
	archive.files_are = "6.1.30-2";
	TargetKernel t = resolve_target(req(), &archive);
	ASSERT_EQ(archive.identified.size(), 1u);
	EXPECT_EQ(archive.identified[0], src + " linux-source-6.1=6.1.30-2");
	EXPECT_EQ(t.src, src);
	EXPECT_EQ(t.src_debian, "6.1.30-2");
	EXPECT_TRUE(contains(t.src_from, "its files")) << t.src_from;
}

TEST_F(Fixture, TarballTreeOfAnotherVersionOrEditedIsRefused)
{
	publish("6.1.30-2");
	make_src(src, "30", "");
	archive.files_are = "6.1.30-1"; // identical to the installed tarball, another version
	std::string e = error_of(req(), &archive);
	EXPECT_TRUE(contains(e, "Debian 6.1.30-1") && contains(e, "is 6.1.30-2")) << e;
	EXPECT_TRUE(contains(e, "its files")) << e;
	archive.files_are.clear();
	e = error_of(req(), &archive);
	EXPECT_EQ(e, archive.differs);
	// Another upstream version is refused by its Makefile: nothing compared, nothing fetched.
	archive.identified.clear();
	make_src(src, "29", "");
	e = error_of(req(), &archive);
	EXPECT_TRUE(contains(e, "Linux 6.1.29") && contains(e, "Linux 6.1.30")) << e;
	EXPECT_TRUE(archive.identified.empty());
	EXPECT_TRUE(archive.fetched.empty());
}

TEST_F(Fixture, WithoutSrcDebiansSourceIsFetched)
{
	publish("6.1.30-2");
	TargetRequest q = req();
	q.src.clear();
	q.need_source = true;
	std::string e = error_of(q, &archive);
	EXPECT_TRUE(contains(e, "no linux-source-6.1 6.1.30-2") && contains(e, "--src")) << e;
	archive.available["linux-source-6.1"] = {"6.1.31-1", "6.1.30-2"};
	archive.fetched.clear();
	TargetKernel t = resolve_target(q, &archive);
	EXPECT_EQ(t.src, pkgs + "/sources/linux-source-6.1_6.1.30-2/linux-source-6.1");
	EXPECT_EQ(t.src_debian, "6.1.30-2");
	ASSERT_FALSE(archive.fetched.empty());
	EXPECT_EQ(archive.fetched.back(), "source linux-source-6.1=6.1.30-2");
	// Not needed (--resolve-only): not fetched.
	q.need_source = false;
	archive.fetched.clear();
	t = resolve_target(q, &archive);
	EXPECT_EQ(t.src, "");
	EXPECT_EQ(archive.fetched.size(), 2u);
}

TEST(TargetKernel, ModuleFileFromModulesOrder)
{
	const std::string order =
	        "kernel/fs/fuse/fuse.ko\nkernel/fs/fuse/virtiofs.ko\n"
	        "kernel/drivers/net/vxlan/vxlan.ko\nkernel/net/ipv4/udp_tunnel.ko\n"
	        "kernel/drivers/hid/hid-generic.ko\n";
	EXPECT_EQ(module_order_path(order, "fuse"), "kernel/fs/fuse/fuse.ko");
	EXPECT_EQ(module_order_path(order, "hid_generic"), "kernel/drivers/hid/hid-generic.ko");
	EXPECT_EQ(module_order_path(order, "udp_tunnel"), "kernel/net/ipv4/udp_tunnel.ko");
	EXPECT_EQ(module_order_path(order, "vx"), "");
	EXPECT_EQ(module_order_path("", "fuse"), "");
}

TEST_F(Fixture, MissingPackagesAndUnreachableArchive)
{
	make_src(src, "30", "6.1.30-2");
	std::string e = error_of(req(), &archive);
	EXPECT_TRUE(contains(e, "no linux-image-" + kRel + "-unsigned")) << e;

	archive.available["linux-image-" + kRel + "-unsigned"] = {"6.1.30-2"};
	e = error_of(req(), &archive);
	EXPECT_TRUE(contains(e, "no linux-headers-" + kRel + " 6.1.30-2")) << e;
	EXPECT_TRUE(archive.fetched.empty());

	archive.unreachable = "downloading x: E: Could not connect to 127.0.0.1:9";
	e = error_of(req(), &archive);
	EXPECT_EQ(e, archive.unreachable);
}

TEST_F(Fixture, NonDebianKernelNeedsOverrides)
{
	TargetRequest q = req();
	q.release = "6.1.30-custom";
	make_src(src, "30", "");
	std::string e = error_of(q, &archive);
	EXPECT_TRUE(contains(e, "not a Debian release") && contains(e, "--config")) << e;

	make_image(d / "other", q.release);
	make_headers(d / "other", q.release);
	q.config = d / ("other/boot/config-" + q.release);
	q.symvers = d / ("other/usr/src/linux-headers-" + q.release + "/Module.symvers");
	q.modules = d / ("other/lib/modules/" + q.release);
	write_file(d / "System.map", "ffffffff81000000 T _stext\n");
	q.vmlinux = d / "System.map";
	TargetKernel t = resolve_target(q, &archive);
	EXPECT_EQ(t.config, q.config);
	EXPECT_EQ(t.system_map, q.vmlinux);
	EXPECT_EQ(t.vmlinux, "");
	EXPECT_EQ(t.package_version, "");

	// Without a Debian version, the upstream version of the config's header is compared.
	make_src(src, "31", "");
	e = error_of(q, &archive);
	EXPECT_TRUE(contains(e, "Linux 6.1.31") && contains(e, "Linux 6.1.30")) << e;

	q.symvers = d / "nosuch";
	e = error_of(q, &archive);
	EXPECT_TRUE(contains(e, "--symvers") && contains(e, "nosuch")) << e;
}

TEST(TargetKernel, StubSystemMapAndConfigVersion)
{
	TempDir d;
	write_file(d / "stub", kStub);
	write_file(d / "real", "ffffffff81000000 T _stext\n");
	EXPECT_TRUE(is_stub_system_map(d / "stub"));
	EXPECT_FALSE(is_stub_system_map(d / "real"));
	write_file(d / "config", "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 "
	                         "6.1.192 Kernel Configuration\n#\n");
	EXPECT_EQ(config_upstream_version(d / "config"), "6.1.192");
}
