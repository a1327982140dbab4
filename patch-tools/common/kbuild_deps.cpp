#include "kbuild_deps.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "error.h"
#include "kernel_info.h"
#include "process.h"
#include "support/files.h"

namespace kp::build {
namespace {

std::string trim(const std::string &s)
{
	size_t b = s.find_first_not_of(" \t\r");
	if (b == std::string::npos)
		return {};
	size_t e = s.find_last_not_of(" \t\r\\");
	if (e == std::string::npos || e < b)
		return {};
	return s.substr(b, e - b + 1);
}

} // namespace

std::string normalize_tree_path(std::string p, const std::string &tree)
{
	if (p.empty())
		return p;
	// "lib/../mm/internal.h" (an #include "../mm/internal.h") names mm/internal.h.
	p = std::filesystem::path(p).lexically_normal().string();
	if (p.rfind("./", 0) == 0)
		p = p.substr(2);
	if (!tree.empty() && p.size() > tree.size() && p.compare(0, tree.size(), tree) == 0 &&
	    p[tree.size()] == '/')
		p = p.substr(tree.size() + 1);
	return p;
}

namespace {

std::string normalize(const std::string &p, const std::string &tree)
{
	return normalize_tree_path(p, tree);
}

void walk_cmd_files(const std::string &root, const std::string &rel, std::vector<std::string> &out)
{
	DIR *d = opendir((rel.empty() ? root : root + "/" + rel).c_str());
	if (!d)
		return;
	std::unique_ptr<DIR, int (*)(DIR *)> guard(d, closedir);
	while (dirent *e = readdir(d)) {
		std::string name = e->d_name;
		if (name == "." || name == "..")
			continue;
		std::string r = rel.empty() ? name : rel + "/" + name;
		unsigned char type = e->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;
			if (lstat((root + "/" + r).c_str(), &st) != 0)
				continue;
			type = S_ISDIR(st.st_mode)   ? DT_DIR
			       : S_ISREG(st.st_mode) ? DT_REG
			                             : DT_UNKNOWN;
		}
		if (type == DT_DIR) {
			if (name == ".git" || name == "Documentation" ||
			    (rel.empty() && name == "tools"))
				continue;
			walk_cmd_files(root, r, out);
		} else if (type == DT_REG && name.size() > 7 && name[0] == '.' &&
		           name.compare(name.size() - 6, 6, ".o.cmd") == 0) {
			std::string obj = name.substr(1, name.size() - 5); // ".x.o.cmd" -> "x.o"
			out.push_back(rel.empty() ? obj : rel + "/" + obj);
		}
	}
}

std::vector<std::string> archive_members(const std::string &archive, const std::string &tree,
                                         Log *log)
{
	auto r = run_process({"ar", "t", archive}, {}, log);
	if (r.status != 0)
		throw Error("cannot list " + archive + ": " + r.output);
	std::vector<std::string> out;
	std::istringstream in(r.output);
	std::string line;
	while (std::getline(in, line))
		if (!line.empty())
			out.push_back(normalize(line, tree));
	return out;
}

} // namespace

ObjectDeps parse_cmd_text(const std::string &text, const std::string &tree)
{
	ObjectDeps d;
	std::istringstream in(text);
	std::string line;
	bool in_deps = false;
	while (std::getline(in, line)) {
		if (in_deps) {
			bool more = !line.empty() && line.back() == '\\';
			std::string item = trim(line);
			if (!item.empty() && item.rfind("$(wildcard", 0) != 0)
				d.deps.push_back(normalize(item, tree));
			if (!more)
				in_deps = false;
			continue;
		}
		if (line.rfind("source_", 0) == 0) {
			auto eq = line.find(":=");
			if (eq == std::string::npos)
				continue;
			d.object = normalize(trim(line.substr(7, eq - 7)), tree);
			d.source = normalize(trim(line.substr(eq + 2)), tree);
		} else if (line.rfind("deps_", 0) == 0) {
			auto eq = line.find(":=");
			if (eq == std::string::npos)
				continue;
			if (d.object.empty())
				d.object = normalize(trim(line.substr(5, eq - 5)), tree);
			std::string rest = trim(line.substr(eq + 2));
			if (!rest.empty() && rest.rfind("$(wildcard", 0) != 0)
				d.deps.push_back(normalize(rest, tree));
			in_deps = !line.empty() && line.back() == '\\';
		}
	}
	return d;
}

ObjectDeps parse_cmd_file(const std::string &path, const std::string &tree)
{
	return parse_cmd_text(take(kp::support::read_text_file(path)), tree);
}

Membership read_membership(const std::string &tree, Log *log)
{
	Membership m;
	std::string vmlinux_a = tree + "/vmlinux.a";
	struct stat st;
	if (stat(vmlinux_a.c_str(), &st) != 0)
		throw Error(tree + " has no vmlinux.a: it was not built with 'make'");
	for (auto &o : archive_members(vmlinux_a, tree, log))
		m.vmlinux.insert(o);
	// Libraries linked into vmlinux (KBUILD_VMLINUX_LIBS): lib.a of lib/ and arch/*/lib/.
	for (const char *lib : {"lib/lib.a", "arch/x86/lib/lib.a"})
		if (stat((tree + "/" + lib).c_str(), &st) == 0)
			for (auto &o : archive_members(tree + "/" + lib, tree, log))
				m.vmlinux.insert(o);
	std::ifstream order(tree + "/modules.order");
	std::string ko;
	while (std::getline(order, ko)) {
		ko = normalize(trim(ko), {});
		if (ko.empty())
			continue;
		// 6.1 lists "x.ko" (older trees "kernel/x.ko" style); the object list is in x.mod.
		std::string base = ko.substr(0, ko.size() - 3);
		std::string name = kp::support::module_name_of_file(ko);
		m.module_ko[name] = ko;
		std::ifstream mod(tree + "/" + base + ".mod");
		std::string line;
		while (std::getline(mod, line)) {
			std::istringstream words(line);
			std::string obj;
			while (words >> obj)
				m.module_of[normalize(obj, {})] = name;
		}
	}
	return m;
}

std::vector<std::string> list_object_records(const std::string &tree)
{
	std::vector<std::string> out;
	walk_cmd_files(tree, "", out);
	std::sort(out.begin(), out.end());
	return out;
}

std::string object_record_path(const std::string &tree, const std::string &obj)
{
	auto slash = obj.rfind('/');
	return tree + "/" + (slash == std::string::npos ? "" : obj.substr(0, slash + 1)) + "." +
	       obj.substr(slash == std::string::npos ? 0 : slash + 1) + ".cmd";
}

void write_dependency_index(const std::string &index_path, const std::vector<ObjectDeps> &records)
{
	std::map<std::string, std::vector<std::string>> inv;
	for (const auto &d : records) {
		std::set<std::string> all(d.deps.begin(), d.deps.end());
		if (!d.source.empty())
			all.insert(d.source);
		for (const auto &f : all)
			inv[f].push_back(d.object);
	}
	std::string tmp = index_path + ".tmp." + std::to_string(getpid());
	{
		std::ofstream out(tmp, std::ios::trunc);
		for (const auto &[f, objs] : inv) {
			out << f << '\t';
			for (size_t i = 0; i < objs.size(); ++i)
				out << (i ? " " : "") << objs[i];
			out << '\n';
		}
		if (!out)
			throw Error("cannot write " + tmp);
	}
	if (rename(tmp.c_str(), index_path.c_str()) != 0)
		throw_errno("rename " + tmp);
}

AffectedObjects query_dependency_index(const std::string &index_path,
                                       const std::set<std::string> &files,
                                       const std::function<bool(const std::string &)> &member)
{
	std::istringstream in(take(kp::support::read_text_file(index_path)));
	AffectedObjects a;
	std::set<std::string> objects;
	std::string line;
	while (std::getline(in, line)) {
		auto tab = line.find('\t');
		if (tab == std::string::npos)
			continue;
		std::string f = line.substr(0, tab);
		if (!files.count(f))
			continue;
		std::istringstream words(line.substr(tab + 1));
		std::string obj;
		while (words >> obj) {
			if (member && !member(obj))
				continue;
			a.by_file[f].push_back(obj);
			objects.insert(obj);
		}
	}
	a.objects.assign(objects.begin(), objects.end());
	return a;
}

AffectedObjects find_affected_objects_cached(const std::string &tree,
                                             const std::set<std::string> &files,
                                             const Membership &membership,
                                             const std::string &index_path)
{
	auto member = [&](const std::string &obj) {
		return membership.vmlinux.count(obj) || membership.module_of.count(obj);
	};
	struct stat st;
	if (stat(index_path.c_str(), &st) != 0) {
		std::vector<ObjectDeps> records;
		for (const auto &obj : list_object_records(tree))
			if (member(obj))
				records.push_back(
				        parse_cmd_file(object_record_path(tree, obj), tree));
		write_dependency_index(index_path, records);
	}
	return query_dependency_index(index_path, files, member);
}

AffectedObjects find_affected_objects(const std::string &tree, const std::set<std::string> &files,
                                      const Membership &membership)
{
	AffectedObjects a;
	for (const auto &obj : list_object_records(tree)) {
		if (!membership.vmlinux.count(obj) && !membership.module_of.count(obj))
			continue;
		ObjectDeps d = parse_cmd_file(object_record_path(tree, obj), tree);
		bool hit = false;
		auto consider = [&](const std::string &f) {
			if (files.count(f)) {
				auto &v = a.by_file[f];
				if (v.empty() || v.back() != obj)
					v.push_back(obj);
				hit = true;
			}
		};
		consider(d.source);
		for (const auto &dep : d.deps)
			consider(dep);
		if (hit)
			a.objects.push_back(obj);
	}
	return a;
}

} // namespace kp::build
