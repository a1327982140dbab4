#include "kit/kit.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/process.h"

namespace kp::kit {

namespace {

std::string make_temp_dir(const std::string &prefix, const fs::path &parent)
{
	fs::path base = parent;
	if (base.empty()) {
		const char *t = std::getenv("TMPDIR");
		base = t && *t ? t : "/tmp";
	}
	fs::create_directories(base);
	std::string tmpl = (base / (prefix + "-XXXXXX")).string();
	std::vector<char> buf(tmpl.begin(), tmpl.end());
	buf.push_back('\0');
	if (!mkdtemp(buf.data()))
		throw std::runtime_error("mkdtemp " + tmpl + " failed");
	return buf.data();
}

// This process's scratch root: created on first use, removed at exit.
struct ScratchRoot {
	TempDir dir{"kp-unit-" + std::to_string(getpid())};
	~ScratchRoot()
	{
		if (std::getenv("KP_KEEP_TEST_FILES"))
			dir.keep();
	}
};

} // namespace

TempDir::TempDir(const std::string &prefix, const fs::path &parent)
    : path_(make_temp_dir(prefix, parent))
{}

TempDir::~TempDir()
{
	if (path_.empty())
		return;
	std::error_code ec;
	fs::remove_all(path_, ec);
}

fs::path scratch_dir(const std::string &name)
{
	static ScratchRoot root;
	fs::path p = fs::path(root.dir.path()) / name;
	fs::remove_all(p);
	fs::create_directories(p);
	return p;
}

void write_file(const fs::path &path, const std::string &content)
{
	if (path.has_parent_path())
		fs::create_directories(path.parent_path());
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << content;
	out.close();
	if (!out)
		throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path &path)
{
	std::ifstream in(path, std::ios::binary);
	std::ostringstream s;
	s << in.rdbuf();
	return s.str();
}

std::string quote(const std::string &s)
{
	std::string q = "'";
	for (char c : s)
		q += c == '\'' ? std::string("'\\''") : std::string(1, c);
	return q + "'";
}

std::vector<std::string> Result::err_lines() const
{
	std::vector<std::string> v;
	std::istringstream in(err);
	for (std::string l; std::getline(in, l);)
		v.push_back(l);
	return v;
}

Result run(const std::vector<std::string> &argv, const RunOptions &opts)
{
	// /bin/sh sends stderr to a file (unless merged) and execs env with the variables.
	TempDir tmp("kp-run");
	std::string err_path = tmp / "stderr";
	std::vector<std::string> full = {"/bin/sh", "-c",
	                                 opts.merge_stderr ? "exec env -- \"$@\""
	                                                   : "exec 2>\"$0\"; exec env -- \"$@\"",
	                                 err_path};
	for (const auto &[k, v] : opts.env)
		full.push_back(k + "=" + v);
	full.insert(full.end(), argv.begin(), argv.end());
	auto r = support::run_process(full, {}, {}, opts.timeout_s);
	Result out;
	if (!r) {
		out.status = 127;
		out.err = r.error().message();
		return out;
	}
	out.status = r->status;
	out.out = r->output;
	out.timed_out = r->timed_out;
	if (!opts.merge_stderr)
		out.err = read_file(err_path);
	return out;
}

Result sh(const std::string &script, const RunOptions &opts)
{
	return run({"/bin/sh", "-c", script}, opts);
}

fs::path kernel_tree()
{
	return fs::path(KP_BUILD_DIR) / "linux";
}

std::string built_kernel_tree()
{
	fs::path t = kernel_tree();
	std::error_code ec;
	if (!fs::exists(t / "vmlinux", ec) || !fs::exists(t / "Module.symvers", ec))
		return {};
	return t.string();
}

} // namespace kp::kit
