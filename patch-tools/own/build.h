// Compiling single objects in a kernel tree (`make <obj>...` with kKcflags): the original
// objects in the cache tree, the patched ones in a cheap copy of it. vmlinux is never
// relinked.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tree_copy.h"

namespace kp::build {

class Log;

// Creates the patched copy of the cache tree at `work_tree`: everything, or (sparse) only
// what building `objects` reads according to their dependency records. In the sparse copy,
// directories of sources only (most of include/ and arch/x86/) are one symlink each to the
// cache's, except those holding a path of `touched` (the files the patches change or
// create), which are real directories the patches can write in.
CopyStats make_work_tree(const std::string &cache_tree, const std::string &work_tree);
CopyStats make_sparse_work_tree(const std::string &cache_tree, const std::string &work_tree,
                                const std::vector<std::string> &objects,
                                const std::set<std::string> &touched);

// The files that the Makefiles Kbuild reads to build objects in `dirs` (each directory's
// Makefile or Kbuild, and its ancestors') include by path, followed recursively: e.g.
// arch/x86/entry/vdso/Makefile's `include $(srctree)/lib/vdso/Makefile`. A sparse copy
// without them stops with "No rule to make target". Paths relative to `tree`, existing only.
std::set<std::string> makefile_includes(const std::string &tree, const std::set<std::string> &dirs);

struct ObjectBuild {
	double seconds = 0; // time in make
};

// Builds `objects` in `tree` with the cache's KCFLAGS. Throws Error with the compiler's
// messages (and the log's path) when an object does not build, saying that `sources` ("the
// patched sources") do not compile. `make_seconds` (optional) accumulates the time in make,
// failed runs included; `on_output` (optional) sees make's output as it comes.
ObjectBuild build_objects(const std::string &tree, const std::vector<std::string> &objects,
                          int jobs, Log &log, double *make_seconds = nullptr,
                          const std::string &sources = "the patched sources",
                          const std::function<void(std::string_view)> &on_output = {});

// The compiler's error lines of a failed make (file:line: error: ...), at most `max` lines.
std::string compiler_errors(const std::string &output, size_t max = 20);

// Why a build failed, in one line for the user: the first error line of build_objects'
// message (the first line itself when it names none).
std::string first_error_line(const std::string &message);

} // namespace kp::build
