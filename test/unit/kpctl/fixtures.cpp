#include "fixtures.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kp::ctl::test {

namespace {

std::string quote(const std::string &s)
{
	std::string q = "'";
	for (char c : s) {
		if (c == '\'')
			q += "'\\''";
		else
			q += c;
	}
	return q + "'";
}

// Removed at exit; a plain buffer because it must outlive every static object.
char cleanup_path[4096];

void remove_work_root()
{
	if (cleanup_path[0]) {
		std::error_code ec;
		fs::remove_all(cleanup_path, ec);
	}
}

fs::path work_root()
{
	static fs::path root = [] {
		fs::path base = fs::path(KPCTL_WORK) / "scratch";
		fs::create_directories(base);
		std::string tmpl = (base / "run-XXXXXX").string();
		std::vector<char> buf(tmpl.begin(), tmpl.end());
		buf.push_back('\0');
		if (!mkdtemp(buf.data()))
			throw std::runtime_error("mkdtemp failed");
		fs::path p(buf.data());
		snprintf(cleanup_path, sizeof(cleanup_path), "%s", buf.data());
		std::atexit(remove_work_root);
		return p;
	}();
	return root;
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
	return KPCTL_KDIR;
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
		if (!fs::exists(kernel_tree() / "vmlinux") ||
		    !fs::exists(kernel_tree() / "Module.symvers")) {
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

void write_file(const fs::path &p, const std::string &content)
{
	fs::create_directories(p.parent_path());
	std::ofstream out(p, std::ios::binary);
	out << content;
}

std::string read_file(const fs::path &p)
{
	std::ifstream in(p, std::ios::binary);
	std::ostringstream s;
	s << in.rdbuf();
	return s.str();
}

std::vector<std::string> Result::err_lines() const
{
	std::vector<std::string> v;
	std::istringstream in(err);
	std::string l;
	while (std::getline(in, l))
		v.push_back(l);
	return v;
}

Result shell(const std::string &cmd)
{
	static int n = 0;
	fs::path o = work_root() / ("out" + std::to_string(++n));
	fs::path e = work_root() / ("err" + std::to_string(n));
	std::string full =
	        "( " + cmd + " ) >" + quote(o.string()) + " 2>" + quote(e.string()) + " </dev/null";
	int st = std::system(full.c_str());
	Result r;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r.out = read_file(o);
	r.err = read_file(e);
	fs::remove(o);
	fs::remove(e);
	return r;
}

Result kpctl(const std::vector<std::string> &args, const std::map<std::string, std::string> &env,
             bool as_nobody)
{
	std::string cmd = "env";
	for (const auto &[k, v] : env)
		cmd += " " + quote(k + "=" + v);
	if (as_nobody && geteuid() == 0)
		cmd += " setpriv --reuid=65534 --regid=65534 --clear-groups";
	cmd += " " + quote(KPCTL_BIN);
	for (const auto &a : args)
		cmd += " " + quote(a);
	return shell(cmd);
}

} // namespace kp::ctl::test
