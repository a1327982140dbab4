// Kbuild's dependency records (.<obj>.o.cmd: source_<obj>, deps_<obj>) and which objects
// end up in vmlinux or in a module.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kp::build {

class Log;

struct ObjectDeps {
	std::string object;            // "fs/proc/cmdline.o", relative to the tree
	std::string source;            // "fs/proc/cmdline.c"
	std::vector<std::string> deps; // every file the compile read (headers included), relative
	                               // to the tree when inside it, else absolute
};

// "./lib/../mm/internal.h" -> "mm/internal.h"; a path under `tree` becomes relative to it.
std::string normalize_tree_path(std::string path, const std::string &tree);

// Parses one .cmd file. `tree` makes absolute paths inside the tree relative. Returns an
// object with an empty `object` when the file records no source_/deps_ (e.g. a link step).
ObjectDeps parse_cmd_text(const std::string &text, const std::string &tree = {});
ObjectDeps parse_cmd_file(const std::string &path, const std::string &tree = {});

// Where an object is linked.
struct Membership {
	std::set<std::string> vmlinux;                // objects of vmlinux.a and the lib.a files
	std::map<std::string, std::string> module_of; // object -> module name (KBUILD_MODNAME form)
	std::map<std::string, std::string> module_ko; // module name -> "fs/fuse/fuse.ko"
};

// Reads vmlinux.a, the libraries linked into vmlinux (lib.a) and modules.order + *.mod of
// a built tree.
Membership read_membership(const std::string &tree, Log *log);

// Every object of `tree` whose dependency record names one of `files` (tree-relative paths).
// Only objects linked into vmlinux or a module count.
struct AffectedObjects {
	std::vector<std::string> objects;                        // sorted
	std::map<std::string, std::vector<std::string>> by_file; // file -> objects naming it
};
AffectedObjects find_affected_objects(const std::string &tree, const std::set<std::string> &files,
                                      const Membership &membership);

// The same, from an inverted index (file -> objects) kept at `index_path`, written from the
// tree's records the first time. The index belongs to an immutable tree (the cache's).
AffectedObjects find_affected_objects_cached(const std::string &tree,
                                             const std::set<std::string> &files,
                                             const Membership &membership,
                                             const std::string &index_path);

// The inverted dependency index of a tree (file -> objects reading it), one line per file:
// "file<TAB>obj obj ...", written atomically.
void write_dependency_index(const std::string &index_path, const std::vector<ObjectDeps> &records);

// The objects of the index reading one of `files` (only those `member` accepts, if given).
AffectedObjects query_dependency_index(const std::string &index_path,
                                       const std::set<std::string> &files,
                                       const std::function<bool(const std::string &)> &member = {});

// Kbuild's record of an object: "fs/proc/base.o" -> "<tree>/fs/proc/.base.o.cmd".
std::string object_record_path(const std::string &tree, const std::string &obj);

// Names of all .<obj>.o.cmd files of the tree (relative object paths).
std::vector<std::string> list_object_records(const std::string &tree);

} // namespace kp::build
