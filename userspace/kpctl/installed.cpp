#include "installed.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

#include "errors.h"
#include "module_fd.h"
#include "module_file.h"
#include "paths.h"
#include "support/atomic_file.h"
#include "support/fd.h"
#include "support/files.h"

namespace fs = std::filesystem;

namespace kp::ctl::installed {

namespace {

constexpr const char *order_header =
        "# kpctl load --all loads these patches of this kernel release, first line first";
constexpr const char *core_file = "kp_core.ko";

// The whole content of an open file, read through its descriptor from offset 0.
std::string read_fd(const ModuleFd &f)
{
	std::string out;
	char buf[65536];
	for (off_t off = 0;;) {
		ssize_t n = ::pread(f.fd(), buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			throw Error(Exit::file_missing,
			            errno_text("cannot read " + f.path(), errno));
		if (n == 0)
			return out;
		out.append(buf, static_cast<size_t>(n));
		off += n;
	}
}

// The file's content, or nullopt when it cannot be read.
std::optional<std::string> read_path(const std::string &path)
{
	auto r = support::read_text_file(path);
	if (!r)
		return std::nullopt;
	return std::move(*r);
}

// Writes @data to a new file @path, mode 0644 whatever the umask, and syncs it.
void write_new(const std::string &path, const std::string &data)
{
	support::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
	if (!fd)
		throw Error(Exit::internal, errno_text("cannot create " + path, errno));
	if (::fchmod(fd.get(), 0644) != 0)
		throw Error(Exit::internal, errno_text("cannot chmod " + path, errno));
	for (size_t done = 0; done < data.size();) {
		ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			throw Error(Exit::internal, errno_text("cannot write " + path, errno));
		done += static_cast<size_t>(n);
	}
	if (::fsync(fd.get()) != 0)
		throw Error(Exit::internal, errno_text("cannot write " + path, errno));
}

// Creates @dir (and its parents) mode 0755: `kpctl load` trusts a module only in folders
// no one but root can write.
void make_dir(const std::string &dir)
{
	std::error_code ec;
	fs::create_directories(dir, ec);
	if (ec)
		throw Error(Exit::internal, "cannot create " + dir + ": " + ec.message());
	if (::chmod(dir.c_str(), 0755) != 0)
		throw Error(Exit::internal, errno_text("cannot chmod " + dir, errno));
}

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> lines;
	std::istringstream in(text);
	for (std::string l; std::getline(in, l);)
		lines.push_back(l);
	return lines;
}

bool is_comment_or_blank(const std::string &line)
{
	auto p = line.find_first_not_of(" \t");
	return p == std::string::npos || line[p] == '#';
}

std::string trimmed(const std::string &line)
{
	auto b = line.find_first_not_of(" \t");
	auto e = line.find_last_not_of(" \t\r");
	return b == std::string::npos ? "" : line.substr(b, e - b + 1);
}

// Rewrites the order file atomically with @lines (kept verbatim: a line kpctl cannot read
// is reported by read_release, never dropped).
void write_order(const std::string &path, const std::vector<std::string> &lines)
{
	auto r = support::write_atomically(path, [&](const std::string &tmp) -> kp::Expected<void> {
		std::string text;
		for (const auto &l : lines)
			text += l + "\n";
		try {
			write_new(tmp, text);
		} catch (const Error &e) {
			return kp::Error(kp::ErrorKind::io, e.what());
		}
		return {};
	});
	if (!r)
		throw Error(Exit::internal, "cannot write " + path + ": " + r.error().message() +
		                                    "; the previous order is kept");
}

// The order file's lines; none when it does not exist.  Throws when it exists but
// cannot be read (it is never rewritten from nothing then).
std::vector<std::string> order_lines(const std::string &path)
{
	std::error_code ec;
	if (!fs::exists(path, ec))
		return {};
	auto text = read_path(path);
	if (!text)
		throw Error(Exit::bad_state, "cannot read " + path +
		                                     "; nothing was changed; repair or remove it "
		                                     "(kpctl list --installed shows the patches)");
	return lines_of(*text);
}

bool same_files(const std::string &dir, const std::string &name, const std::string &module,
                const std::string &core)
{
	auto m = read_path(dir + "/" + name + ".ko");
	auto c = read_path(dir + "/" + core_file);
	return m && c && *m == module && *c == core;
}

// Another patch folder of @dir whose kp_core.ko is @core, byte for byte: the new patch
// shares that file (a hard link) instead of a copy; empty when there is none.
std::string same_core_elsewhere(const std::string &dir, const std::string &name,
                                const std::string &core)
{
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(dir, ec)) {
		std::string n = e.path().filename().string();
		if (n.empty() || n[0] == '.' || n == name || !e.is_directory(ec))
			continue;
		std::string c = e.path().string() + "/" + core_file;
		if (fs::is_regular_file(fs::symlink_status(c, ec)) && read_path(c) == core)
			return c;
	}
	return "";
}

// An exclusive lock on <release dir>/.lock while installing or uninstalling (two installs
// at once keep both patches).  A kernel built without CONFIG_FILE_LOCKING (flock: ENOSYS)
// gets none: one install at a time is then the caller's affair, as under dpkg.
support::Fd lock_release(const std::string &dir)
{
	const std::string path = dir + "/.lock";
	support::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	if (!fd)
		throw Error(Exit::internal, errno_text("cannot open " + path, errno));
	int r;
	while ((r = ::flock(fd.get(), LOCK_EX)) != 0 && errno == EINTR) {
	}
	if (r != 0 && errno != ENOSYS)
		throw Error(Exit::internal, errno_text("cannot lock " + path, errno));
	return fd;
}

} // namespace

bool valid_name(const std::string &name)
{
	return !name.empty() && name.size() <= 55 &&
	       std::all_of(name.begin(), name.end(), [](char c) {
		       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		              (c >= '0' && c <= '9') || c == '_';
	       });
}

Release read_release(const std::string &release)
{
	Release r;
	r.release = release;
	r.dir = paths::installed_dir(release);
	r.order = r.dir + "/order";
	std::error_code ec;
	if (!fs::exists(r.dir, ec))
		return r;
	if (!fs::is_directory(r.dir, ec)) {
		r.problems.push_back(r.dir + " is not a folder; nothing installed for " + release +
		                     " can be read");
		return r;
	}
	std::set<std::string> listed;
	bool have_order = fs::exists(r.order, ec);
	if (have_order) {
		auto text = read_path(r.order);
		if (!text)
			r.problems.push_back("cannot read " + r.order +
			                     ": no patch of this release is loaded");
		auto lines = text ? lines_of(*text) : std::vector<std::string>{};
		for (size_t i = 0; i < lines.size(); i++) {
			if (is_comment_or_blank(lines[i]))
				continue;
			std::string where = r.order + " line " + std::to_string(i + 1);
			std::string name = trimmed(lines[i]);
			if (!valid_name(name)) {
				r.problems.push_back(where + ": '" + name +
				                     "' is not a module name; line skipped");
				continue;
			}
			if (!listed.insert(name).second) {
				r.problems.push_back(where + ": " + name +
				                     " is listed before; line skipped");
				continue;
			}
			Patch p{name, r.dir + "/" + name, r.dir + "/" + name + "/" + name + ".ko",
			        r.dir + "/" + name + "/" + core_file};
			std::string missing;
			for (const auto &f : {p.module, p.core})
				if (!fs::is_regular_file(f, ec))
					missing += (missing.empty() ? "" : ", ") + f;
			if (!missing.empty()) {
				r.problems.push_back(where + ": patch " + name + " is missing " +
				                     missing +
				                     "; not loaded (kpctl install it again, "
				                     "or kpctl uninstall " +
				                     name + ")");
				continue;
			}
			r.patches.push_back(std::move(p));
		}
	}
	for (const auto &e : fs::directory_iterator(r.dir, ec)) {
		std::string n = e.path().filename().string();
		if (n.empty() || n[0] == '.' || n == "order" || listed.count(n))
			continue;
		if (e.is_directory(ec))
			r.problems.push_back(
			        e.path().string() + " is a patch folder " + r.order +
			        (have_order ? " does not list" : " (missing) cannot list") +
			        "; not loaded (kpctl install it again, or kpctl "
			        "uninstall " +
			        n + ")");
		else
			r.problems.push_back(e.path().string() +
			                     " is no part of kpctl's state; ignored");
	}
	return r;
}

Outcome install(const ModuleFd &module, const ModuleInfo &m, const ModuleFd &core,
                const std::string &release)
{
	const std::string dir = paths::installed_dir(release);
	const std::string name = m.name;
	if (!valid_name(name))
		throw Error(Exit::not_kp_patch, module.path() + ": module name '" + name +
		                                        "' is not a kernel module name");
	make_dir(dir);
	auto lock = lock_release(dir);
	const std::string order = dir + "/order";
	auto lines = order_lines(order);
	const std::string final_dir = dir + "/" + name;
	std::error_code ec;
	bool exists = fs::exists(fs::symlink_status(final_dir, ec));
	if (exists &&
	    (fs::is_symlink(fs::symlink_status(final_dir, ec)) || !fs::is_directory(final_dir, ec)))
		throw Error(Exit::bad_state, final_dir + " exists and is not a patch folder; "
		                                         "nothing was installed; move it away");
	bool listed = std::any_of(lines.begin(), lines.end(), [&](const std::string &l) {
		return !is_comment_or_blank(l) && trimmed(l) == name;
	});
	const std::string module_bytes = read_fd(module), core_bytes = read_fd(core);
	Outcome outcome = exists ? Outcome::replaced : Outcome::installed;
	if (exists && same_files(final_dir, name, module_bytes, core_bytes)) {
		if (listed)
			return Outcome::unchanged;
		outcome = Outcome::unchanged; // files kept, listed again below
	} else {
		auto tmp = support::make_temp_dir(dir, "." + name + ".new.");
		if (!tmp)
			throw Error(Exit::internal, tmp.error().message());
		try {
			if (::chmod(tmp->c_str(), 0755) != 0)
				throw Error(Exit::internal,
				            errno_text("cannot chmod " + *tmp, errno));
			write_new(*tmp + "/" + name + ".ko", module_bytes);
			// Patches built by the same kp share one core file (the state is smaller,
			// and so is what a backup copies); a file is never changed in place.
			std::string shared = same_core_elsewhere(dir, name, core_bytes);
			if (shared.empty() ||
			    ::link(shared.c_str(), (*tmp + "/" + core_file).c_str()) != 0)
				write_new(*tmp + "/" + core_file, core_bytes);
			// Swapped in at once: a reader sees the old folder or the new one.
			int flags = exists ? RENAME_EXCHANGE : RENAME_NOREPLACE;
			if (::renameat2(AT_FDCWD, tmp->c_str(), AT_FDCWD, final_dir.c_str(),
			                flags) != 0)
				throw Error(Exit::internal,
				            errno_text("cannot move " + *tmp + " to " + final_dir,
				                       errno));
		} catch (...) {
			(void)support::remove_tree(*tmp);
			throw;
		}
		(void)support::remove_tree(*tmp); // the previous folder, after an exchange
	}
	if (!listed) {
		if (lines.empty())
			lines.push_back(order_header);
		lines.push_back(name);
		write_order(order, lines);
	}
	return outcome;
}

bool uninstall(const std::string &release, const std::string &name)
{
	const std::string dir = paths::installed_dir(release);
	std::error_code ec;
	if (!fs::is_directory(dir, ec))
		return false;
	auto lock = lock_release(dir);
	const std::string order = dir + "/order";
	auto lines = order_lines(order);
	auto end = std::remove_if(lines.begin(), lines.end(), [&](const std::string &l) {
		return !is_comment_or_blank(l) && trimmed(l) == name;
	});
	bool listed = end != lines.end();
	if (listed) {
		lines.erase(end, lines.end());
		write_order(order, lines);
	}
	const std::string patch_dir = dir + "/" + name;
	bool present = fs::is_directory(fs::symlink_status(patch_dir, ec));
	if (present) {
		auto r = support::remove_tree(patch_dir);
		if (!r)
			throw Error(Exit::internal, r.error().message() + "; " + name +
			                                    " is out of the load order already");
	}
	return listed || present;
}

} // namespace kp::ctl::installed
