#include "build.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "cache.h"
#include "error.h"
#include "kbuild_deps.h"
#include "process.h"
#include "progress.h"

namespace kp::build {

CopyStats make_work_tree(const std::string &cache_tree, const std::string &work_tree)
{
	return copy_tree(cache_tree, work_tree, work_tree_policy());
}

namespace {

// The paths a makefile includes: `include`, `-include` and `sinclude` lines naming
// $(srctree)/PATH or $(src)/PATH (`dir`: the directory Kbuild builds). Paths built from other
// variables ($(ARCH_DIR)...) are left out: Kbuild's own x86 and scripts/ ones are in every
// sparse copy.
std::vector<std::string> included_paths(const std::string &text, const std::string &dir)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);) {
		std::istringstream words(line);
		std::string w;
		if (!(words >> w) || (w != "include" && w != "-include" && w != "sinclude"))
			continue;
		while (words >> w) {
			std::string rel;
			if (w.rfind("$(srctree)/", 0) == 0)
				rel = w.substr(11);
			else if (w.rfind("$(src)/", 0) == 0)
				rel = (dir.empty() ? "" : dir + "/") + w.substr(7);
			if (!rel.empty() && rel.find('$') == std::string::npos)
				out.push_back(rel);
		}
	}
	return out;
}

} // namespace

std::set<std::string> makefile_includes(const std::string &tree, const std::set<std::string> &dirs)
{
	std::vector<std::pair<std::string, std::string>> todo; // makefile, the directory built
	std::set<std::string> seen, out;
	for (const auto &d : dirs) {
		for (std::string a = d;; a = a.substr(0, a.rfind('/'))) {
			for (const char *name : {"Makefile", "Kbuild"}) {
				std::string mk = (a.empty() ? "" : a + "/") + name;
				if (seen.insert(mk).second)
					todo.emplace_back(mk, a);
			}
			if (a.find('/') == std::string::npos)
				break;
		}
	}
	while (!todo.empty()) {
		auto [mk, dir] = todo.back();
		todo.pop_back();
		std::ifstream in(tree + "/" + mk);
		if (!in)
			continue;
		std::string text((std::istreambuf_iterator<char>(in)),
		                 std::istreambuf_iterator<char>());
		for (const auto &rel : included_paths(text, dir)) {
			struct stat st;
			if (stat((tree + "/" + rel).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			out.insert(rel);
			// $(src) stays the directory Kbuild builds, whichever file includes.
			if (seen.insert(rel).second)
				todo.emplace_back(rel, dir);
		}
	}
	return out;
}

CopyStats make_sparse_work_tree(const std::string &cache_tree, const std::string &work_tree,
                                const std::vector<std::string> &objects,
                                const std::set<std::string> &touched)
{
	std::set<std::string> dirs, files;
	for (const auto &o : objects) {
		auto slash = o.rfind('/');
		dirs.insert(slash == std::string::npos ? "" : o.substr(0, slash));
		std::string cmd = cache_tree + "/" +
		                  (slash == std::string::npos ? "" : o.substr(0, slash + 1)) + "." +
		                  o.substr(slash == std::string::npos ? 0 : slash + 1) + ".cmd";
		ObjectDeps d = parse_cmd_file(cmd, cache_tree);
		if (!d.source.empty())
			files.insert(d.source);
		for (const auto &f : d.deps)
			if (!f.empty() && f.front() != '/')
				files.insert(f);
	}
	// Makefiles that Kbuild reads on its way to the objects may include others elsewhere.
	for (const auto &f : makefile_includes(cache_tree, dirs))
		files.insert(f);
	// The objects' own directories stay real: Kbuild writes their outputs there.
	auto link_dir = [&touched, &objects](const std::string &rel) {
		std::string prefix = rel + "/";
		for (const auto &t : touched)
			if (t.rfind(prefix, 0) == 0)
				return false;
		for (const auto &o : objects)
			if (o.rfind(prefix, 0) == 0)
				return false;
		return true;
	};
	return copy_tree(cache_tree, work_tree, work_tree_policy(),
	                 sparse_work_tree_filter(std::move(dirs), std::move(files)), link_dir);
}

std::string compiler_errors(const std::string &output, size_t max)
{
	std::istringstream in(output);
	std::string line, out;
	size_t n = 0;
	while (std::getline(in, line) && n < max) {
		if (line.find("error:") != std::string::npos ||
		    line.find("Error ") != std::string::npos ||
		    line.find("No rule to make target") != std::string::npos) {
			out += "  " + line + "\n";
			++n;
		}
	}
	return out;
}

std::string first_error_line(const std::string &message)
{
	std::istringstream in(message);
	std::string line, first;
	while (std::getline(in, line)) {
		size_t b = line.find_first_not_of(' ');
		if (b == std::string::npos)
			continue;
		if (first.empty())
			first = line.substr(b);
		if (line.compare(0, 2, "  ") == 0)
			return line.substr(b); // compiler_errors' lines
	}
	return first;
}

ObjectBuild build_objects(const std::string &tree, const std::vector<std::string> &objects,
                          int jobs, Log &log, double *make_seconds, const std::string &sources,
                          const std::function<void(std::string_view)> &on_output)
{
	std::vector<std::string> cmd = {"make", "-C", tree, "-j" + std::to_string(jobs),
	                                std::string("KCFLAGS=") + kKcflags};
	for (const auto &o : objects) {
		// A stale output would be taken as up to date; the copy never has one, but be sure.
		std::string p = tree + "/" + o;
		struct stat st;
		if (lstat(p.c_str(), &st) == 0 && unlink(p.c_str()) != 0)
			throw_errno("unlink " + p);
		cmd.push_back(o);
	}
	auto r = run_process(cmd, {}, &log, on_output);
	ObjectBuild b;
	b.seconds = r.seconds;
	if (make_seconds)
		*make_seconds += r.seconds;
	if (r.status != 0)
		throw Error(sources + " do not compile (full compiler output in " + log.path() +
		            "):\n" + compiler_errors(r.output));
	for (const auto &o : objects) {
		struct stat st;
		if (stat((tree + "/" + o).c_str(), &st) != 0)
			throw Error("make did not produce " + o + " in " + tree +
			            " (log: " + log.path() + ")");
	}
	return b;
}

} // namespace kp::build
