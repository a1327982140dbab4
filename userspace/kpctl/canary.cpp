#include "canary.h"

#include <sys/vfs.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "errors.h"
#include "sysfs.h"

namespace fs = std::filesystem;

namespace kp::ctl {

namespace {

constexpr long cgroup2_magic = 0x63677270; // CGROUP2_SUPER_MAGIC
constexpr unsigned long pf_kthread = 0x00200000;

[[noreturn]] void bad(const std::string &sel, const std::string &why)
{
	throw Error(Exit::usage, "--canary " + sel + ": " + why +
	                                 " (a selector is pid:PID or cgroup:PATH, several "
	                                 "separated by commas)");
}

// The flags field (9th) of /proc/PID/stat; nullopt when the process does not exist.
std::optional<unsigned long> task_flags(const std::string &proc, pid_t pid)
{
	std::ifstream in(proc + "/" + std::to_string(pid) + "/stat");
	std::string text;
	if (!in || !std::getline(in, text))
		return std::nullopt;
	auto close = text.rfind(')'); // the comm may hold spaces and parentheses
	if (close == std::string::npos)
		return std::nullopt;
	std::istringstream rest(text.substr(close + 1));
	std::string field;
	for (int i = 3; i <= 9 && rest >> field; i++)
		if (i == 9)
			return std::stoul(field);
	return std::nullopt;
}

void add_pid(const std::string &sel, const std::string &proc, pid_t pid, std::vector<pid_t> &out)
{
	auto flags = task_flags(proc, pid);
	if (!flags)
		bad(sel, "no process " + std::to_string(pid));
	if (*flags & pf_kthread)
		bad(sel, "process " + std::to_string(pid) + " is a kernel thread");
	out.push_back(pid);
}

pid_t parse_pid(const std::string &sel, const std::string &text)
{
	if (text.empty() || text.size() > 9 ||
	    text.find_first_not_of("0123456789") != std::string::npos)
		bad(sel, "'" + text + "' is not a process id");
	pid_t pid = static_cast<pid_t>(std::stol(text));
	if (pid <= 0)
		bad(sel, "'" + text + "' is not a process id");
	return pid;
}

void add_cgroup(const std::string &sel, const std::string &proc, const std::string &path,
                std::vector<pid_t> &out)
{
	struct statfs sfs {};
	std::error_code ec;
	if (path.empty() || path.front() != '/')
		bad(sel, "the cgroup path must be absolute");
	if (!fs::is_directory(path, ec))
		bad(sel, path + " is not a directory");
	if (::statfs(path.c_str(), &sfs) != 0 || sfs.f_type != cgroup2_magic)
		bad(sel, path + " is not a cgroup v2 directory (mount -t cgroup2)");
	std::ifstream in(fs::path(path) / "cgroup.procs");
	if (!in)
		bad(sel, "cannot read " + path + "/cgroup.procs");
	size_t before = out.size();
	for (std::string line; std::getline(in, line);)
		if (!line.empty())
			add_pid(sel, proc, parse_pid(sel, line), out);
	if (out.size() == before)
		bad(sel, "cgroup " + path + " has no process");
}

} // namespace

std::vector<pid_t> canary_pids(const std::vector<std::string> &selectors, const std::string &proc)
{
	std::vector<pid_t> out;
	for (const auto &arg : selectors) {
		for (size_t start = 0, end = 0; end != std::string::npos; start = end + 1) {
			end = arg.find(',', start);
			std::string sel =
			        arg.substr(start, end == std::string::npos ? end : end - start);
			if (sel.rfind("pid:", 0) == 0)
				add_pid(sel, proc, parse_pid(sel, sel.substr(4)), out);
			else if (sel.rfind("cgroup:", 0) == 0)
				add_cgroup(sel, proc, sel.substr(7), out);
			else
				bad(sel.empty() ? "''" : sel, "unknown selector");
		}
	}
	std::sort(out.begin(), out.end());
	out.erase(std::unique(out.begin(), out.end()), out.end());
	if (out.empty())
		throw Error(Exit::usage, "--canary selects no process");
	if (out.size() > max_canary_pids)
		throw Error(Exit::usage, "--canary selects " + std::to_string(out.size()) +
		                                 " processes; the core takes at most " +
		                                 std::to_string(max_canary_pids));
	return out;
}

int arm_canary(const std::string &name, const std::vector<pid_t> &pids)
{
	std::string line = name;
	for (pid_t p : pids)
		line += " " + std::to_string(p);
	return write_kp_file("canary", line + "\n");
}

int disarm_canary(const std::string &name)
{
	return write_kp_file("canary", name + "\n");
}

int write_canary(const std::string &name, const std::string &what)
{
	return write_kp_file(name + "/canary", what + "\n");
}

std::optional<std::string> patch_in_canary(const std::string &except)
{
	for (const auto &n : loaded_patch_names()) {
		auto st = read_patch(n);
		if (n != except && st && st->transition == "canary")
			return n;
	}
	return std::nullopt;
}

} // namespace kp::ctl
