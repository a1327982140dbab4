#include "sysfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernel.h"
#include "paths.h"

namespace fs = std::filesystem;

namespace kp::ctl {

namespace {

std::optional<std::string> read_text(const fs::path &p)
{
	std::ifstream in(p);
	if (!in)
		return std::nullopt;
	std::ostringstream s;
	s << in.rdbuf();
	std::string v = s.str();
	while (!v.empty() && (v.back() == '\n' || v.back() == ' '))
		v.pop_back();
	return v;
}

std::vector<std::string> lines(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	std::string l;
	while (std::getline(in, l))
		if (!l.empty())
			out.push_back(l);
	return out;
}

} // namespace

bool core_sysfs_present()
{
	std::error_code ec;
	return fs::is_directory(paths::kp_sysfs(), ec);
}

std::vector<std::string> loaded_patch_names()
{
	std::vector<std::string> out;
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(paths::kp_sysfs(), ec)) {
		std::error_code ec2;
		if (e.is_directory(ec2) && fs::exists(e.path() / "enabled", ec2))
			out.push_back(e.path().filename().string());
	}
	std::sort(out.begin(), out.end());
	return out;
}

std::optional<PatchState> read_patch(const std::string &name)
{
	fs::path dir = fs::path(paths::kp_sysfs()) / name;
	auto enabled = read_text(dir / "enabled");
	if (!enabled)
		return std::nullopt;
	PatchState st;
	st.name = name;
	st.enabled = *enabled == "1";
	st.transition = read_text(dir / "transition").value_or("unknown");
	auto number = [&](const char *file) -> unsigned long long {
		try {
			return std::stoull(read_text(dir / file).value_or("0"));
		} catch (const std::exception &) {
			return 0;
		}
	};
	st.transition_ms = number("transition_ms");
	st.pending_count = static_cast<unsigned>(number("pending"));
	st.pending = lines(read_text(dir / "pending_tasks").value_or(""));
	st.timeout = static_cast<unsigned>(number("timeout"));
	st.forced = number("force") != 0;
	st.blocked = lines(read_text(dir / "blocked").value_or(""));
	st.build_id = read_text(dir / "build_id").value_or("");
	st.callbacks = lines(read_text(dir / "callbacks").value_or(""));
	st.states = lines(read_text(dir / "states").value_or(""));
	st.values = lines(read_text(dir / "values").value_or(""));
	st.shadow_ids = lines(read_text(dir / "shadow_ids").value_or(""));
	st.probation_left = static_cast<unsigned>(number("probation"));
	st.rolled_back = read_text(dir / "rolled_back").value_or("");
	st.rollback_on = read_text(dir / "rollback_on").value_or("");
	st.on_timeout = read_text(dir / "on_timeout").value_or("");
	st.stalled = number("stalled") != 0;
	st.canary = lines(read_text(dir / "canary").value_or(""));
	st.replace = number("replace") != 0;
	st.set = read_text(dir / "set").value_or("");
	st.replaced = lines(read_text(dir / "replaced").value_or(""));
	st.replaced_by = read_text(dir / "replaced_by").value_or("");
	std::error_code ec;
	for (const auto &obj : fs::directory_iterator(dir, ec)) {
		std::error_code ec2;
		if (!obj.is_directory(ec2) || obj.is_symlink(ec2))
			continue;
		for (const auto &fn : fs::directory_iterator(obj.path(), ec2)) {
			std::error_code ec3;
			if (!fn.is_directory(ec3))
				continue;
			std::string leaf = fn.path().filename().string();
			auto comma = leaf.rfind(',');
			if (comma == std::string::npos)
				continue;
			FuncState f;
			f.object = obj.path().filename().string();
			f.function = leaf.substr(0, comma);
			try {
				f.sympos = std::stoul(leaf.substr(comma + 1));
			} catch (const std::exception &) {
				continue;
			}
			f.old_addr = read_text(fn.path() / "old_addr").value_or("");
			f.new_addr = read_text(fn.path() / "new_addr").value_or("");
			st.funcs.push_back(std::move(f));
		}
	}
	std::sort(st.funcs.begin(), st.funcs.end(), [](const FuncState &a, const FuncState &b) {
		return std::tie(a.object, a.function, a.sympos) <
		       std::tie(b.object, b.function, b.sympos);
	});
	return st;
}

namespace {

int write_attr(const std::string &name, const char *attr, const std::string &value)
{
	return write_kp_file(name + "/" + attr, value);
}

} // namespace

int write_kp_file(const std::string &rel, const std::string &value)
{
	std::string path = paths::kp_sysfs() + "/" + rel;
	int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ssize_t n = ::write(fd, value.data(), value.size());
	int err = n < 0 ? errno : 0;
	::close(fd);
	return err;
}

int write_enabled(const std::string &name, bool on)
{
	return write_attr(name, "enabled", on ? "1\n" : "0\n");
}

int write_timeout(const std::string &name, unsigned seconds)
{
	return write_attr(name, "timeout", std::to_string(seconds) + "\n");
}

int write_probation(const std::string &name, unsigned seconds)
{
	return write_attr(name, "probation", std::to_string(seconds) + "\n");
}

int write_rollback(const std::string &name, const std::string &reason)
{
	return write_attr(name, "rollback", reason + "\n");
}

int write_rollback_on(const std::string &name, const std::string &kinds)
{
	return write_attr(name, "rollback_on", kinds + "\n");
}

int write_on_timeout(const std::string &name, const std::string &mode)
{
	return write_attr(name, "on_timeout", mode + "\n");
}

std::optional<std::string> patch_in_transition(const std::string &except)
{
	for (const auto &n : loaded_patch_names()) {
		if (n == except)
			continue;
		auto t = read_text(fs::path(paths::kp_sysfs()) / n / "transition");
		if (t && *t != "idle")
			return n;
	}
	return std::nullopt;
}

std::string module_initstate(const std::string &name)
{
	return read_text(fs::path(paths::sysfs_module(name)) / "initstate").value_or("");
}

bool module_loaded(const std::string &name)
{
	return !module_initstate(name).empty();
}

} // namespace kp::ctl
