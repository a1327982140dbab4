#include "tree_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "error.h"
#include "support/files.h"
#include "unique_fd.h"

namespace kp::build {
namespace {

bool ends_with(const std::string &s, const std::string &suf)
{
	return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string base_name(const std::string &rel)
{
	auto slash = rel.rfind('/');
	return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

std::string read_all(const std::string &path);

struct Roots {
	std::string from, to; // absolute roots, for kCopyRelocated
};

void copy_relocated(const std::string &src, const std::string &dst, const struct stat &st,
                    const Roots &roots)
{
	std::string text = read_all(src);
	if (ends_with(src, "/include/config/auto.conf.cmd")) {
		// Kconfig's record of the files the configuration was read from: a copy that builds
		// single objects with the unchanged .config has no use for them (and may lack
		// them). Empty the deps_config list (first line up to the first blank line); keep
		// the checks of ARCH, CC, srctree... that follow.
		if (text.rfind("deps_config := \\\n", 0) == 0) {
			size_t blank = text.find("\n\n");
			if (blank != std::string::npos)
				text = "deps_config :=\n" + text.substr(blank + 1);
		}
	}
	std::string out;
	out.reserve(text.size());
	size_t pos = 0;
	for (size_t hit; (hit = text.find(roots.from, pos)) != std::string::npos;
	     pos = hit + roots.from.size())
		out.append(text, pos, hit - pos).append(roots.to);
	out.append(text, pos, std::string::npos);
	UniqueFd fd(open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
	if (fd.get() < 0)
		throw_errno("create " + dst);
	if (write(fd.get(), out.data(), out.size()) != static_cast<ssize_t>(out.size()))
		throw_errno("write " + dst);
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	if (futimens(fd.get(), times) != 0)
		throw_errno("utimens " + dst);
}

// Would the copy of directory `src` (relative `rel`) hard-link every file below it and
// leave nothing out?
bool only_links_below(const std::string &src, const std::string &rel, const CopyPolicy &policy,
                      const NameFilter &wanted)
{
	for (const auto &name : take(kp::support::list_directory(src))) {
		std::string s = src + "/" + name, r = rel + "/" + name;
		struct stat st;
		if (lstat(s.c_str(), &st) != 0)
			throw_errno("stat " + s);
		if (S_ISLNK(st.st_mode))
			continue;
		if (S_ISDIR(st.st_mode)) {
			if ((wanted && !wanted(r + "/")) || !only_links_below(s, r, policy, wanted))
				return false;
		} else if (!S_ISREG(st.st_mode) || (wanted && !wanted(r)) ||
		           policy(r, st) != CopyAction::kLink) {
			return false;
		}
	}
	return true;
}

void copy_dir(const std::string &src, const std::string &dst, const std::string &rel,
              const CopyPolicy &policy, const NameFilter &wanted, const DirLinkFilter &link_dir,
              CopyStats &stats, const Roots &roots)
{
	DIR *d = opendir(src.c_str());
	if (!d)
		throw_errno("cannot read directory " + src);
	std::unique_ptr<DIR, int (*)(DIR *)> guard(d, closedir);
	struct stat dst_st;
	if (lstat(src.c_str(), &dst_st) != 0)
		throw_errno("stat " + src);
	if (mkdir(dst.c_str(), dst_st.st_mode & 07777) != 0)
		throw_errno("mkdir " + dst);
	while (dirent *e = readdir(d)) {
		std::string name = e->d_name;
		if (name == "." || name == "..")
			continue;
		std::string s = src + "/" + name, t = dst + "/" + name;
		std::string r = rel.empty() ? name : rel + "/" + name;
		if (e->d_type == DT_REG && wanted && !wanted(r)) {
			++stats.skipped;
			continue;
		}
		struct stat st;
		if (lstat(s.c_str(), &st) != 0)
			throw_errno("stat " + s);
		if (S_ISREG(st.st_mode) && wanted && !wanted(r)) {
			++stats.skipped;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (wanted && !wanted(r + "/"))
				continue;
			if (link_dir && link_dir(r) && only_links_below(s, r, policy, wanted)) {
				std::string target = roots.from + "/" + r;
				if (symlink(target.c_str(), t.c_str()) != 0)
					throw_errno("symlink " + t);
				++stats.linked_dirs;
				continue;
			}
			copy_dir(s, t, r, policy, wanted, link_dir, stats, roots);
		} else if (S_ISLNK(st.st_mode)) {
			std::vector<char> buf(static_cast<size_t>(st.st_size) + 1);
			ssize_t n = readlink(s.c_str(), buf.data(), buf.size());
			if (n < 0)
				throw_errno("readlink " + s);
			std::string target(buf.data(), static_cast<size_t>(n));
			if (symlink(target.c_str(), t.c_str()) != 0)
				throw_errno("symlink " + t);
		} else if (S_ISREG(st.st_mode)) {
			switch (policy(r, st)) {
			case CopyAction::kLink:
				if (link(s.c_str(), t.c_str()) != 0)
					throw_errno("link " + s + " -> " + t);
				++stats.linked;
				break;
			case CopyAction::kCopy:
				copy_file_preserving(s, t, st);
				++stats.copied;
				stats.copied_bytes += static_cast<uint64_t>(st.st_size);
				break;
			case CopyAction::kCopyRelocated:
				copy_relocated(s, t, st, roots);
				++stats.copied;
				stats.copied_bytes += static_cast<uint64_t>(st.st_size);
				break;
			case CopyAction::kSkip: ++stats.skipped; break;
			}
		}
		// sockets, fifos, devices: never part of a kernel tree; left out.
	}
	// Directory mtimes are irrelevant to Kbuild; leave them.
}

std::string read_all(const std::string &path)
{
	UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (fd.get() < 0)
		throw_errno("open " + path);
	std::string out;
	char buf[1 << 16];
	for (ssize_t n; (n = read(fd.get(), buf, sizeof buf)) != 0;) {
		if (n < 0)
			throw_errno("read " + path);
		out.append(buf, static_cast<size_t>(n));
	}
	return out;
}

// Empties the directory open as `dfd` (closes it).
} // namespace

bool is_object_product(const std::string &rel)
{
	std::string b = base_name(rel);
	static const char *const suffixes[] = {".o",      ".a",   ".ko",    ".o.cmd", ".a.cmd",
	                                       ".ko.cmd", ".o.d", ".mod.c", ".dwo",   ".lto.o"};
	for (const char *s : suffixes)
		if (ends_with(b, s))
			return true;
	return b == "vmlinux" || b == "vmlinux.o" || b == "vmlinux.a" ||
	       b.rfind(".tmp_vmlinux", 0) == 0 || b == "System.map" || b == "bzImage" ||
	       b == "vmlinux.bin" || b == "vmlinux.bin.gz" || b == "vmlinux.relocs" ||
	       b == "piggy.S";
}

bool is_kconfig_symbol_stamp(const std::string &rel)
{
	static const std::string dir = "include/config/";
	if (rel.size() <= dir.size() || rel.compare(0, dir.size(), dir) != 0)
		return false;
	return std::all_of(rel.begin() + static_cast<long>(dir.size()), rel.end(), [](char c) {
		return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
	});
}

bool is_host_program_path(const std::string &rel)
{
	return rel.rfind("tools/", 0) == 0 || rel.rfind("scripts/", 0) == 0 ||
	       rel.find("/tools/") != std::string::npos;
}

namespace {
// tools/ (objtool) is built with O=<absolute tree>: its records name the tree's path.
bool is_tools_record(const std::string &rel)
{
	return rel.rfind("tools/", 0) == 0 && (ends_with(rel, ".cmd") || ends_with(rel, ".d"));
}
} // namespace

CopyPolicy built_tree_policy(struct timespec cutoff)
{
	return [cutoff](const std::string &rel, const struct stat &st) {
		if (is_object_product(rel) && !is_host_program_path(rel))
			return ends_with(rel, ".o.cmd") && !ends_with(rel, ".mod.o.cmd")
			               ? CopyAction::kCopy
			               : CopyAction::kSkip;
		bool older =
		        st.st_mtim.tv_sec < cutoff.tv_sec ||
		        (st.st_mtim.tv_sec == cutoff.tv_sec && st.st_mtim.tv_nsec < cutoff.tv_nsec);
		if (older && !is_object_product(rel))
			return CopyAction::kLink;
		return is_tools_record(rel) ? CopyAction::kCopyRelocated : CopyAction::kCopy;
	};
}

CopyPolicy work_tree_policy()
{
	return [](const std::string &rel, const struct stat &st) {
		if (st.st_nlink > 1)
			return CopyAction::kLink;
		// Kernel objects are rebuilt only when asked for.
		if (!is_host_program_path(rel) && is_object_product(rel))
			return CopyAction::kSkip;
		if (is_kconfig_symbol_stamp(rel))
			return CopyAction::kSkip;
		if (is_tools_record(rel) || rel == "include/config/auto.conf.cmd")
			return CopyAction::kCopyRelocated;
		return CopyAction::kCopy;
	};
}

NameFilter sparse_work_tree_filter(std::set<std::string> needed_dirs,
                                   std::set<std::string> needed_files)
{
	static const char *const prefixes[] = {"include/",      "arch/x86/",       "scripts/",
	                                       "usr/",          "tools/objtool/",  "tools/include/",
	                                       "tools/lib/",    "tools/arch/x86/", "tools/build/",
	                                       "tools/scripts/"};
	static const char *const extra[] = {"kernel/bounds.c", "kernel/bounds.s",
	                                    "kernel/.bounds.s.cmd", "kernel/time/timeconst.bc"};
	// Every ancestor directory of what is needed must be walked.
	std::set<std::string> walk;
	auto add_parents = [&](const std::string &path) {
		for (size_t p = path.find('/'); p != std::string::npos; p = path.find('/', p + 1))
			walk.insert(path.substr(0, p + 1));
	};
	for (const auto &d : needed_dirs)
		add_parents(d + "/");
	for (const auto &f : needed_files)
		add_parents(f);
	for (const char *p : prefixes)
		add_parents(p);
	for (const char *e : extra)
		add_parents(e);
	return [dirs = std::move(needed_dirs), files = std::move(needed_files),
	        walk = std::move(walk)](const std::string &rel) {
		for (const char *p : prefixes)
			if (rel.rfind(p, 0) == 0)
				return true;
		if (!rel.empty() && rel.back() == '/') {
			return walk.count(rel) != 0 ||
			       dirs.count(rel.substr(0, rel.size() - 1)) != 0;
		}
		auto slash = rel.rfind('/');
		if (slash == std::string::npos)
			return true; // top-level files
		std::string b = rel.substr(slash + 1), dir = rel.substr(0, slash);
		if (b == "Makefile" || b == "Kbuild" || dir == "tools")
			return true;
		for (const char *e : extra)
			if (rel == e)
				return true;
		return dirs.count(dir) || files.count(rel);
	};
}

CopyStats copy_tree(const std::string &src, const std::string &dst, const CopyPolicy &policy,
                    const NameFilter &wanted, const DirLinkFilter &link_dir)
{
	CopyStats stats;
	std::error_code ec;
	Roots roots{std::filesystem::absolute(src, ec).string(),
	            std::filesystem::absolute(dst, ec).string()};
	copy_dir(src, dst, "", policy, wanted, link_dir, stats, roots);
	return stats;
}

void copy_file_preserving(const std::string &src, const std::string &dst, const struct stat &st)
{
	UniqueFd in(open(src.c_str(), O_RDONLY | O_CLOEXEC));
	if (in.get() < 0)
		throw_errno("open " + src);
	// O_EXCL: a copy always creates a new inode, it never writes an existing file.
	UniqueFd out(
	        open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
	if (out.get() < 0)
		throw_errno("create " + dst);
	off_t left = st.st_size;
	while (left > 0) {
		ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr,
		                            static_cast<size_t>(left), 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
			char buf[1 << 16];
			n = read(in.get(), buf, sizeof buf);
			if (n > 0 && write(out.get(), buf, static_cast<size_t>(n)) != n)
				throw_errno("write " + dst);
		}
		if (n < 0)
			throw_errno("copy " + src + " -> " + dst);
		if (n == 0)
			break;
		left -= n;
	}
	if (fchmod(out.get(), st.st_mode & 07777) != 0)
		throw_errno("chmod " + dst);
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	if (futimens(out.get(), times) != 0)
		throw_errno("utimens " + dst);
}

bool break_hard_link(const std::string &path)
{
	struct stat st;
	if (lstat(path.c_str(), &st) != 0) {
		if (errno == ENOENT)
			return false;
		throw_errno("stat " + path);
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink <= 1)
		return false;
	std::string tmp = path + ".kp-unlink";
	unlink(tmp.c_str());
	copy_file_preserving(path, tmp, st);
	if (rename(tmp.c_str(), path.c_str()) != 0)
		throw_errno("rename " + tmp + " -> " + path);
	return true;
}

} // namespace kp::build
