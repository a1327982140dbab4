// What every object of a kernel config reads, found without building it (issue 13, item 2):
// a header change must rebuild every object whose code it can change, and with --kernel
// there is no built tree whose .cmd records could say which.
//  1. Kbuild's own dry run (`make -n vmlinux modules` in the prepared tree) prints every
//     command a full build would run: each object's compile command, exactly as Kbuild
//     composes it for this config, and the archive (vmlinux.a, built-in.a, lib.a) and
//     module (.mod) lists that say what is linked where.
//  2. Each compile runs again as a dependency pass only (-MM -MG: the preprocessor, no
//     compiling), in parallel: the files it reads are the files Kbuild's -MMD would record.
//  Objects the prepared tree has already built print an empty recipe: their own .o.cmd
//  records are read instead.
#pragma once
#include <istream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kbuild_deps.h"

namespace kp::build {

class Log;

struct KernelCompile {
	std::string object; // "fs/proc/base.o"
	std::string source; // "fs/proc/base.c"
	std::vector<std::string> argv;
};

struct DryRun {
	std::vector<KernelCompile> compiles;
	std::set<std::string> vmlinux;                // objects linked into vmlinux
	std::map<std::string, std::string> module_of; // module object -> module name
	bool saw_vmlinux_archive = false;             // the dry run reached vmlinux.a
};

// Reads `make -n` output (one recipe a line). Kernel compiles are the commands with
// -nostdinc, -c and -o (host tools are compiled without -nostdinc).
DryRun parse_dry_run(std::istream &in);

// Runs the dry run in tree with Kbuild's make variables (CC=, KERNELRELEASE=, KCFLAGS=).
// Writes nothing: make -n only prints. Throws Error when it did not reach vmlinux.a.
DryRun kbuild_dry_run(const std::string &tree, const std::vector<std::string> &make_vars, Log *log);

// The dependency pass's command for one compile: -c/-o/-Wp,-MMD replaced by
// -MM -MG -MF deps_file -MT object.
std::vector<std::string> dependency_command(const KernelCompile &c, const std::string &deps_file);

// Parses a make rule "obj: a.h b.h \\\n c.h" as the dependency pass writes it.
ObjectDeps parse_make_rule(const std::string &text);

struct DependencyScan {
	std::vector<ObjectDeps> records;    // one per object of vmlinux and the modules
	std::vector<std::string> failed;    // objects whose dependencies could not be found (why)
	std::vector<std::string> generated; // objects whose source Kbuild generates (absent from
	                                    // the unbuilt tree): only building them tells
	std::vector<std::string> partial;   // objects whose record names a header Kbuild
	                                    // generates: what that header includes is missing
	size_t preprocessed = 0;            // objects run through the dependency pass
	size_t recorded = 0;                // objects read from the tree's own .o.cmd
};

// Every object linked into vmlinux or a module, with what it reads: the dependency pass for
// the dry run's compiles, the tree's .o.cmd for objects already built. An object whose
// source does not exist yet (an .asn1.c, the vDSO image, capflags.c) is listed in
// `generated` for the caller to build; one that includes a header that does not exist yet
// (an .asn1.h) has its record, and is listed in `partial`, to be built for a complete one. Scratch
// files go to work_dir.
DependencyScan scan_dependencies(const std::string &tree, const DryRun &dry,
                                 const std::string &work_dir, int jobs, Log *log);

} // namespace kp::build
