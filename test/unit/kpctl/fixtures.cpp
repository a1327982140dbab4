#include "fixtures.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace kp::ctl::test {

namespace {

using kit::quote;

// This run's folder under the build folder, removed at exit.
fs::path work_root()
{
	static kit::TempDir root("run", fs::path(KPCTL_WORK) / "scratch");
	return root.path();
}

// Copies fixture @name and builds it with Kbuild; returns the build folder.
fs::path build_fixture(const std::string &name, const std::string &dest, const std::string &extra)
{
	fs::path src = fs::path(KPCTL_REPO) / "test/integration/kpctl-fixtures" / name;
	fs::path dir = work_root() / dest;
	fs::create_directories(dir);
	fs::copy(src, dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
	std::string cmd = "make -s -C " + quote(kernel_tree().string()) +
	                  " M=" + quote(dir.string()) + " KP_ROOT=" + quote(KPCTL_REPO) + " " +
	                  extra + " modules";
	Result r = shell(cmd);
	if (r.status != 0)
		ADD_FAILURE() << "building fixture " << name << " failed:\n" << r.out << r.err;
	return dir;
}

} // namespace

fs::path kernel_tree()
{
	return kit::kernel_tree();
}

std::string test_kernel_release()
{
	std::string r = read_file(kernel_tree() / "include/config/kernel.release");
	while (!r.empty() && r.back() == '\n')
		r.pop_back();
	return r;
}

std::string test_kernel_build_id()
{
	Result r = shell("readelf -n " + quote((kernel_tree() / "vmlinux").string()) +
	                 " | sed -n 's/.*Build ID: *\\([0-9a-f]*\\).*/\\1/p'");
	std::string id = r.out;
	while (!id.empty() && id.back() == '\n')
		id.pop_back();
	return id;
}

const Fixtures &fixtures()
{
	static Fixtures f = [] {
		Fixtures x;
		if (kit::built_kernel_tree().empty()) {
			x.skip = "test kernel not built in " + kernel_tree().string() +
			         " (run 'make kernel')";
			return x;
		}
		fs::path d = build_fixture("kpctl_fixture", "patch", "");
		x.patch_ko = d / "kpctl_fixture.ko";
		x.patch_o = d / "kpctl_fixture.o";
		x.wrong_id_ko =
		        build_fixture(
		                "kpctl_fixture", "wrong-id",
		                "KP_TARGET_BUILD_ID=0000000000000000000000000000000000000000") /
		        "kpctl_fixture.ko";
		x.plain_ko = build_fixture("kpctl_plain", "plain", "") / "kpctl_plain.ko";
		return x;
	}();
	return f;
}

fs::path scratch_dir(const std::string &name)
{
	fs::path p = work_root() / ("scratch-" + name);
	fs::remove_all(p);
	fs::create_directories(p);
	return p;
}

Result shell(const std::string &cmd)
{
	return kit::sh(cmd);
}

Result kpctl(const std::vector<std::string> &args, const std::map<std::string, std::string> &env,
             bool as_nobody)
{
	std::vector<std::string> argv;
	if (as_nobody && geteuid() == 0)
		argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
	argv.push_back(KPCTL_BIN);
	argv.insert(argv.end(), args.begin(), args.end());
	kit::RunOptions o;
	o.env = env;
	return kit::run(argv, o);
}

} // namespace kp::ctl::test
