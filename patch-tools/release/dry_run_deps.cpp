#include "dry_run_deps.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "error.h"
#include "kernel_info.h"
#include "parallel.h"
#include "process.h"
#include "progress.h"
#include "shell_words.h"
#include "support/files.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {

bool has(const ShellCommand &c, const std::string &word)
{
	return std::find(c.begin(), c.end(), word) != c.end();
}

bool ends_with(const std::string &s, const std::string &suffix)
{
	return s.size() >= suffix.size() &&
	       s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string dir_of(const std::string &path)
{
	auto slash = path.rfind('/');
	return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// "printf 'fs/proc/%s ' a.o b.o" -> {"fs/proc/a.o", "fs/proc/b.o"}
std::vector<std::string> printf_items(const ShellCommand &c)
{
	std::vector<std::string> items;
	if (c.size() < 2 || c[0] != "printf")
		return items;
	std::string fmt = c[1];
	auto pos = fmt.find("%s");
	if (pos == std::string::npos)
		return items;
	std::string prefix = fmt.substr(0, pos);
	for (size_t i = 2; i < c.size() && c[i] != ">"; ++i)
		items.push_back(normalize_tree_path(prefix + c[i], {}));
	return items;
}

struct Archives {
	std::map<std::string, std::vector<std::string>> members; // archive -> members
};

// "ar cDPrST dir/built-in.a members..." (or "xargs ar ..." fed by a printf).
void read_archive(const ShellLine &line, size_t i, Archives &a)
{
	const ShellCommand &c = line.commands[i];
	size_t at = c[0] == "xargs" ? 1 : 0;
	if (c.size() < at + 3 || c[at] != "ar" || c[at + 1].find('c') == std::string::npos ||
	    !ends_with(c[at + 2], ".a"))
		return;
	std::string archive = normalize_tree_path(c[at + 2], {});
	auto &m = a.members[archive];
	for (size_t k = at + 3; k < c.size(); ++k)
		m.push_back(normalize_tree_path(c[k], {}));
	if (at == 1 && i > 0 && line.ended_by[i - 1] == "|")
		for (auto &item : printf_items(line.commands[i - 1]))
			m.push_back(item);
}

// "printf '%s\n' a.o b.o | awk '...' > dir/name.mod": the module's objects.
void read_module_list(const ShellLine &line, size_t i, DryRun &d)
{
	const ShellCommand &c = line.commands[i];
	if (c.size() < 3 || c[0] != "awk" || c[c.size() - 2] != ">" ||
	    !ends_with(c.back(), ".mod") || i == 0 || line.ended_by[i - 1] != "|")
		return;
	std::string mod = normalize_tree_path(c.back(), {});
	std::string name = kp::support::module_name_of_file(mod.substr(0, mod.size() - 4) + ".ko");
	std::string dir = dir_of(mod);
	const ShellCommand &p = line.commands[i - 1];
	if (p.size() < 2 || p[0] != "printf")
		return;
	for (size_t k = 2; k < p.size(); ++k)
		d.module_of[normalize_tree_path(dir.empty() ? p[k] : dir + "/" + p[k], {})] = name;
}

void read_compile(const ShellCommand &c, DryRun &d)
{
	if (!has(c, "-nostdinc") || !has(c, "-c"))
		return;
	auto o = std::find(c.begin(), c.end(), "-o");
	if (o == c.end() || o + 1 == c.end() || !ends_with(*(o + 1), ".o"))
		return;
	d.compiles.push_back(
	        {normalize_tree_path(*(o + 1), {}), normalize_tree_path(c.back(), {}), c});
}

void expand(const Archives &a, const std::string &archive, std::set<std::string> &out,
            std::set<std::string> &seen)
{
	if (!seen.insert(archive).second)
		return;
	auto it = a.members.find(archive);
	if (it == a.members.end())
		return;
	for (const auto &m : it->second) {
		if (ends_with(m, ".a"))
			expand(a, m, out, seen);
		else
			out.insert(m);
	}
}

std::string flat_name(std::string obj)
{
	std::replace(obj.begin(), obj.end(), '/', '%');
	return obj;
}

std::string first_line(const std::string &text)
{
	return text.substr(0, text.find('\n'));
}

} // namespace

DryRun parse_dry_run(std::istream &in)
{
	DryRun d;
	Archives archives;
	std::string text;
	while (std::getline(in, text)) {
		if (text.find("-nostdinc") == std::string::npos &&
		    text.find(" ar ") == std::string::npos &&
		    text.find(".mod") == std::string::npos)
			continue;
		ShellLine line = split_shell_line(text);
		for (size_t i = 0; i < line.commands.size(); ++i) {
			read_compile(line.commands[i], d);
			read_archive(line, i, archives);
			read_module_list(line, i, d);
		}
	}
	d.saw_vmlinux_archive = archives.members.count("vmlinux.a") != 0;
	std::set<std::string> seen;
	expand(archives, "vmlinux.a", d.vmlinux, seen);
	return d;
}

DryRun kbuild_dry_run(const std::string &tree, const std::vector<std::string> &make_vars, Log *log)
{
	// -k: the recipe of vmlinux itself needs vmlinux.a built; by then every compile and
	// archive command has been printed.
	std::vector<std::string> cmd{"make", "-C", tree, "-n", "-k"};
	cmd.insert(cmd.end(), make_vars.begin(), make_vars.end());
	cmd.insert(cmd.end(), {"vmlinux", "modules"});
	ProcResult r = run_process(cmd, {}, nullptr);
	if (log)
		log->write("$ " + join_command(cmd) + "\n[exit " + std::to_string(r.status) + ", " +
		           std::to_string(r.output.size()) + " bytes of recipes]\n");
	std::istringstream in(r.output);
	DryRun d = parse_dry_run(in);
	if (!d.saw_vmlinux_archive || d.compiles.empty())
		throw Error("Kbuild's dry run in " + tree + " did not reach vmlinux.a (" +
		            std::to_string(d.compiles.size()) +
		            " compiles seen): " + join_command(cmd));
	return d;
}

std::vector<std::string> dependency_command(const KernelCompile &c, const std::string &deps_file)
{
	std::vector<std::string> out;
	for (size_t i = 0; i < c.argv.size(); ++i) {
		const std::string &w = c.argv[i];
		if (w == "-o") {
			++i;
			continue;
		}
		if (w == "-c" || w.rfind("-Wp,-MMD,", 0) == 0 || w.rfind("-Wp,-MD,", 0) == 0)
			continue;
		out.push_back(w);
	}
	out.insert(out.end(), {"-MM", "-MG", "-MF", deps_file, "-MT", c.object});
	return out;
}

ObjectDeps parse_make_rule(const std::string &text)
{
	ObjectDeps d;
	auto colon = text.find(':');
	if (colon == std::string::npos)
		return d;
	d.object = normalize_tree_path(text.substr(0, colon), {});
	std::istringstream words(text.substr(colon + 1));
	std::string w;
	while (words >> w) {
		if (w == "\\")
			continue;
		w = normalize_tree_path(w, {});
		if (d.source.empty())
			d.source = w;
		else
			d.deps.push_back(w);
	}
	return d;
}

DependencyScan scan_dependencies(const std::string &tree, const DryRun &dry,
                                 const std::string &work_dir, int jobs, Log *log)
{
	std::map<std::string, const KernelCompile *> compile_of;
	for (const auto &c : dry.compiles)
		compile_of[c.object] = &c;
	std::set<std::string> members = dry.vmlinux;
	for (const auto &[obj, mod] : dry.module_of)
		members.insert(obj);

	DependencyScan s;
	std::vector<const KernelCompile *> todo;
	for (const auto &obj : members) {
		std::string cmd = object_record_path(tree, obj);
		struct stat st;
		auto it = compile_of.find(obj);
		if (it != compile_of.end()) {
			if (stat((tree + "/" + it->second->source).c_str(), &st) == 0)
				todo.push_back(it->second);
			else
				s.generated.push_back(obj);
			continue;
		}
		if (stat(cmd.c_str(), &st) != 0) {
			s.failed.push_back(obj + ": no compile in the dry run and no " + cmd);
			continue;
		}
		s.records.push_back(parse_cmd_file(cmd, tree));
		++s.recorded;
	}
	fs::create_directories(work_dir);
	std::vector<ObjectDeps> passed(todo.size());
	std::vector<std::string> why(todo.size());
	parallel_for(todo.size(), jobs, [&](size_t i) {
		const KernelCompile &c = *todo[i];
		std::string deps_file = work_dir + "/" + flat_name(c.object) + ".d";
		try {
			ProcResult r = run_process(dependency_command(c, deps_file), tree, nullptr);
			if (r.status != 0) {
				why[i] = c.object + ": the dependency pass failed: " +
				         first_line(r.output.substr(
				                 r.output.find_first_not_of('\n') ==
				                                 std::string::npos
				                         ? 0
				                         : r.output.find_first_not_of('\n')));
				return;
			}
			passed[i] = parse_make_rule(take(kp::support::read_text_file(deps_file)));
		} catch (const std::exception &e) {
			why[i] = c.object + ": " + e.what();
		}
	});
	// -MG lists a header the tree does not have yet as written (`x509.asn1.h`), and what
	// that header includes stays unknown: Kbuild generates it (asn1_compiler, for the
	// module signing parsers) when it builds the object. Such records are `partial`: the
	// caller builds those objects and takes Kbuild's own records instead.
	std::map<std::string, bool> exists;
	auto present = [&](const std::string &path) {
		auto [it, fresh] = exists.try_emplace(path, false);
		if (fresh) {
			struct stat st;
			std::string full = path.starts_with("/") ? path : tree + "/" + path;
			it->second = stat(full.c_str(), &st) == 0;
		}
		return it->second;
	};
	for (size_t i = 0; i < todo.size(); ++i) {
		if (!why[i].empty()) {
			s.failed.push_back(why[i]);
			continue;
		}
		if (!std::all_of(passed[i].deps.begin(), passed[i].deps.end(), present))
			s.partial.push_back(passed[i].object);
		s.records.push_back(std::move(passed[i]));
		++s.preprocessed;
	}
	if (log)
		log->write("dependency scan of " + tree + ": " + std::to_string(s.preprocessed) +
		           " preprocessed, " + std::to_string(s.recorded) + " from .o.cmd, " +
		           std::to_string(s.generated.size()) + " with generated sources, " +
		           std::to_string(s.partial.size()) + " including generated headers, " +
		           std::to_string(s.failed.size()) + " failed\n");
	std::sort(s.records.begin(), s.records.end(),
	          [](const ObjectDeps &a, const ObjectDeps &b) { return a.object < b.object; });
	return s;
}

} // namespace kp::build
