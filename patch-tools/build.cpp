#include "build.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "cache.hpp"
#include "error.hpp"
#include "kbuild_deps.hpp"
#include "process.hpp"
#include "progress.hpp"

namespace kpb {

CopyStats make_work_tree(const std::string& cache_tree, const std::string& work_tree) {
  return copy_tree(cache_tree, work_tree, work_tree_policy());
}

CopyStats make_sparse_work_tree(const std::string& cache_tree, const std::string& work_tree,
                                const std::vector<std::string>& objects,
                                const std::set<std::string>& touched) {
  std::set<std::string> dirs, files;
  for (const auto& o : objects) {
    auto slash = o.rfind('/');
    dirs.insert(slash == std::string::npos ? "" : o.substr(0, slash));
    std::string cmd = cache_tree + "/" + (slash == std::string::npos ? "" : o.substr(0, slash + 1)) + "." +
                      o.substr(slash == std::string::npos ? 0 : slash + 1) + ".cmd";
    ObjectDeps d = parse_cmd_file(cmd, cache_tree);
    if (!d.source.empty()) files.insert(d.source);
    for (const auto& f : d.deps)
      if (!f.empty() && f.front() != '/') files.insert(f);
  }
  // The objects' own directories stay real: Kbuild writes their outputs there.
  auto link_dir = [&touched, &objects](const std::string& rel) {
    std::string prefix = rel + "/";
    for (const auto& t : touched)
      if (t.rfind(prefix, 0) == 0) return false;
    for (const auto& o : objects)
      if (o.rfind(prefix, 0) == 0) return false;
    return true;
  };
  return copy_tree(cache_tree, work_tree, work_tree_policy(),
                   sparse_work_tree_filter(std::move(dirs), std::move(files)), link_dir);
}

std::string compiler_errors(const std::string& output, size_t max) {
  std::istringstream in(output);
  std::string line, out;
  size_t n = 0;
  while (std::getline(in, line) && n < max) {
    if (line.find("error:") != std::string::npos || line.find("Error ") != std::string::npos ||
        line.find("No rule to make target") != std::string::npos) {
      out += "  " + line + "\n";
      ++n;
    }
  }
  return out;
}

ObjectBuild build_objects(const std::string& tree, const std::vector<std::string>& objects,
                          int jobs, Log& log, double* make_seconds) {
  std::vector<std::string> cmd = {"make", "-C", tree, "-j" + std::to_string(jobs),
                                  std::string("KCFLAGS=") + kKcflags};
  for (const auto& o : objects) {
    // A stale output would be taken as up to date; the copy never has one, but be sure.
    std::string p = tree + "/" + o;
    struct stat st;
    if (lstat(p.c_str(), &st) == 0 && unlink(p.c_str()) != 0) throw_errno("unlink " + p);
    cmd.push_back(o);
  }
  auto r = run_process(cmd, {}, &log);
  ObjectBuild b;
  b.seconds = r.seconds;
  if (make_seconds) *make_seconds += r.seconds;
  if (r.status != 0)
    throw Error("the patched sources do not compile (full compiler output in " + log.path() + "):\n" +
                compiler_errors(r.output));
  for (const auto& o : objects) {
    struct stat st;
    if (stat((tree + "/" + o).c_str(), &st) != 0)
      throw Error("the patched build did not produce " + o + " (log: " + log.path() + ")");
  }
  return b;
}

}  // namespace kpb
