#include "tree_prepare.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "cache.h"
#include "dry_run_deps.h"
#include "error.h"
#include "kbuild_deps.h"
#include "kernel_info.h"
#include "kernel_release.h"
#include "kpatch_headers.h"
#include "link.h"
#include "patch_apply.h"
#include "patch_parse.h"
#include "process.h"
#include "progress.h"
#include "source_dir.h"
#include "support/files.h"
#include "tree_copy.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {

std::string tail(const std::string &text, int lines)
{
	size_t pos = text.size();
	for (int i = 0; i <= lines && pos != std::string::npos && pos > 0; ++i)
		pos = text.rfind('\n', pos - 1);
	return pos == std::string::npos ? text : text.substr(pos + 1);
}

void run_make(const std::string &tree, const std::vector<std::string> &vars,
              const std::vector<std::string> &targets, int jobs, Log *log, const char *what)
{
	std::vector<std::string> cmd{"make", "-C", tree, "-s", "-j" + std::to_string(jobs)};
	cmd.insert(cmd.end(), vars.begin(), vars.end());
	cmd.insert(cmd.end(), targets.begin(), targets.end());
	ProcResult r = run_process(cmd, {}, log);
	if (r.status != 0)
		throw Error(std::string(what) + " failed in " + tree + ": " + join_command(cmd) +
		            "\n" + tail(r.output, 20));
}

std::string key_of(const PrepareRequest &q, const std::string &config_text,
                   const std::vector<std::string> &vars)
{
	SourceVersion sv = read_source_version(q.src);
	std::string text = "src=" + fs::canonical(q.src).string() + "\nupstream=" + sv.upstream +
	                   "\ndebian=" + q.debian + "\nrelease=" + q.release + "\n";
	for (const auto &v : vars)
		text += v + "\n";
	text += config_text;
	char hex[17];
	std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(text)));
	return hex;
}

void build_tree(const PrepareRequest &q, const PreparedTree &p, const std::string &config_text,
                Log *log)
{
	std::string tmp = p.dir + ".tmp";
	if (fs::exists(tmp))
		take(kp::support::remove_tree(tmp));
	ProcResult r = run_process({"cp", "-al", fs::canonical(q.src).string(), tmp}, {}, log);
	if (r.status != 0)
		throw Error("cannot copy " + q.src + " to " + tmp + ": " + tail(r.output, 3));
	// The copy shares its files with SRC: .config is written as a new file, never through
	// a link, and Kbuild only creates files.
	fs::remove(tmp + "/.config");
	std::ofstream(tmp + "/.config", std::ios::trunc) << config_text;
	run_make(tmp, p.make_vars, {"olddefconfig"}, 1, log, "olddefconfig");
	std::string got = take(kp::support::read_text_file(tmp + "/.config"));
	if (config_value(got, "CONFIG_CC_VERSION_TEXT") !=
	    config_value(config_text, "CONFIG_CC_VERSION_TEXT"))
		throw Error("olddefconfig changed CONFIG_CC_VERSION_TEXT: the compiler is not the "
		            "release's");
	run_make(tmp, p.make_vars, {"modules_prepare"}, q.jobs, log, "modules_prepare");
	fs::rename(tmp, p.dir);
	std::ofstream(p.dir + "/.kp-prepared") << "release=" << q.release << "\n";
}

const char *kJournal = "/.kp-patching";
const char *kSaved = ".kp-orig";

std::set<std::string> patched_sources(const std::vector<PatchInfo> &patches)
{
	std::set<std::string> files;
	for (const auto &p : patches)
		for (const auto &f : p.files)
			files.insert(f.path);
	return files;
}

// The files a patched build sets aside or creates: sources, kp's kpatch headers beside
// them, objects and their .cmd records.
std::vector<std::string> set_aside_files(const std::vector<PatchInfo> &patches,
                                         const std::vector<std::string> &objects)
{
	std::set<std::string> sources = patched_sources(patches);
	std::vector<std::string> files(sources.begin(), sources.end());
	for (const auto &h : kpatch_header_paths(sources))
		files.push_back(h);
	for (const auto &o : objects) {
		files.push_back(o);
		auto slash = o.rfind('/');
		files.push_back(o.substr(0, slash + 1) + "." + o.substr(slash + 1) + ".cmd");
	}
	std::sort(files.begin(), files.end());
	files.erase(std::unique(files.begin(), files.end()), files.end());
	return files;
}

// Puts back what a patched build set aside (listed in the journal), then drops the journal.
void restore_tree(const std::string &tree)
{
	std::string journal = tree + kJournal;
	if (!fs::exists(journal))
		return;
	std::istringstream in(take(kp::support::read_text_file(journal)));
	std::string f;
	while (std::getline(in, f)) {
		std::string saved = tree + "/" + f + kSaved;
		if (fs::exists(saved))
			fs::rename(saved, tree + "/" + f);
		else
			fs::remove(tree + "/" + f); // did not exist before
	}
	fs::remove(journal);
}

std::vector<std::pair<std::string, std::string>>
copy_objects(const std::string &tree, const std::vector<std::string> &objs, const std::string &dir)
{
	fs::create_directories(dir);
	std::vector<std::pair<std::string, std::string>> out;
	for (const auto &o : objs) {
		std::string flat = o;
		std::replace(flat.begin(), flat.end(), '/', '_');
		fs::copy_file(tree + "/" + o, dir + "/" + flat,
		              fs::copy_options::overwrite_existing);
		out.emplace_back(o, dir + "/" + flat);
	}
	return out;
}

} // namespace

ObjectPairs compile_before_after(const PreparedTree &prepared,
                                 const std::vector<PatchInfo> &patches,
                                 const std::vector<std::string> &objects, const std::string &work,
                                 int jobs, Log *log)
{
	const std::string &tree = prepared.dir;
	auto lock = take(kp::support::FileLock::acquire(tree + ".lock"));
	restore_tree(tree);
	ObjectPairs out;
	// The tree's sources never change (a patched build restores them), so an object built
	// by an earlier run, with its record, is the original: make is not asked again (each
	// make spends ~1.5 s deciding so).
	std::vector<std::string> unbuilt;
	for (const auto &o : objects)
		if (!fs::exists(tree + "/" + o) || !fs::exists(object_record_path(tree, o)))
			unbuilt.push_back(o);
	if (!unbuilt.empty())
		compile_objects(prepared, tree, unbuilt, jobs, log);
	out.orig = copy_objects(tree, objects, work + "/orig");

	std::vector<std::string> files = set_aside_files(patches, objects);
	{
		std::ofstream j(tree + kJournal, std::ios::trunc);
		for (const auto &f : files)
			j << f << "\n";
		if (!j)
			throw Error("cannot write " + tree + kJournal);
	}
	try {
		for (const auto &f : files) {
			std::string path = tree + "/" + f;
			if (!fs::exists(path))
				continue;
			fs::rename(path, path + kSaved);
			if (f.size() < 2 || f.compare(f.size() - 2, 2, ".o") != 0)
				fs::copy_file(path + kSaved, path); // a new inode, then patched
		}
		for (const auto &p : patches)
			apply_patch(p, tree, log);
		install_kpatch_headers(kp_source_dir(), tree, patched_sources(patches));
		compile_objects(prepared, tree, objects, jobs, log);
		out.patched = copy_objects(tree, objects, work + "/patched");
	} catch (...) {
		restore_tree(tree);
		throw;
	}
	restore_tree(tree);
	return out;
}

void install_symvers(const PreparedTree &prepared, const std::string &symvers, Log *log)
{
	auto lock = take(kp::support::FileLock::acquire(prepared.dir + ".lock"));
	std::string dst = prepared.dir + "/Module.symvers";
	std::string text = take(kp::support::read_text_file(symvers));
	if (fs::exists(dst) && take(kp::support::read_text_file(dst)) == text)
		return;
	std::string tmp = dst + ".kp-new";
	{
		std::ofstream out(tmp, std::ios::trunc);
		out << text;
		if (!out)
			throw Error("cannot write " + tmp);
	}
	fs::rename(tmp, dst); // replaces the name, never the inode it named
	if (log)
		log->write("Module.symvers of the release: " + symvers + " -> " + dst + "\n");
}

std::vector<std::string> release_make_vars(const std::string &config_text,
                                           const std::string &release)
{
	std::string cc_text = config_value(config_text, "CONFIG_CC_VERSION_TEXT");
	if (cc_text.empty())
		throw Error("the release's config has no CONFIG_CC_VERSION_TEXT");
	std::string cc = cc_text.substr(0, cc_text.find(' '));
	ProcResult r = run_process({cc, "--version"});
	if (r.status != 0)
		throw Error("kernel " + release + " was built with " + cc + " (" + cc_text +
		            "), which is not installed here");
	std::string first = r.output.substr(0, r.output.find('\n'));
	if (compiler_identity(first) != compiler_identity(cc_text))
		throw Error("kernel " + release + " was built with '" + cc_text + "' but " + cc +
		            " here is '" + first + "'");
	return {"CC=" + cc, "KERNELRELEASE=" + release, std::string("KCFLAGS=") + kKcflags};
}

PreparedTree prepare_tree(const PrepareRequest &q, Log *log)
{
	std::string config_text = take(kp::support::read_text_file(q.config));
	PreparedTree p;
	p.make_vars = release_make_vars(config_text, q.release);
	p.key = key_of(q, config_text, p.make_vars);
	std::string trees = q.cache_dir + "/debian/trees";
	fs::create_directories(trees);
	p.dir = trees + "/" + q.release + "-" + p.key;
	p.in_use = std::make_shared<InUse>(p.dir);
	auto lock = take(kp::support::FileLock::acquire(p.dir + ".lock"));
	if (fs::exists(p.dir + "/.kp-prepared")) {
		restore_tree(p.dir);
		p.hit = true;
		return p;
	}
	auto start = std::chrono::steady_clock::now();
	build_tree(q, p, config_text, log);
	p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	return p;
}

double compile_objects(const PreparedTree &prepared, const std::string &tree,
                       const std::vector<std::string> &objects, int jobs, Log *log)
{
	auto start = std::chrono::steady_clock::now();
	run_make(tree, prepared.make_vars, objects, jobs, log, "compiling");
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

namespace {
// Kbuild's record of @obj in @tree, when it holds one. A record without its source_ and
// deps_ lines says nothing of what the object reads: one such was left in a cold run for
// arch/x86/lib/inat.o (which includes the generated inat-tables.c), without the object,
// and took inat.o out of the index.
std::optional<ObjectDeps> kbuild_record(const std::string &tree, const std::string &obj, Log *log)
{
	std::string cmd = object_record_path(tree, obj);
	if (!fs::exists(cmd))
		return std::nullopt;
	ObjectDeps d = parse_cmd_file(cmd, tree);
	if (!d.source.empty())
		return d;
	if (log)
		log->write(cmd + " has no source_ line: the dependency pass's record is kept\n");
	return std::nullopt;
}
} // namespace

DependencyIndex dependency_index(const PreparedTree &prepared, int jobs, Log *log)
{
	DependencyIndex d;
	// ".deps2": the index since objects including a generated header are built for their
	// records (an older ".deps" missed what such a header includes).
	d.path = prepared.dir + ".deps2";
	std::string failed_path = d.path + ".failed";
	auto lock = take(kp::support::FileLock::acquire(prepared.dir + ".lock"));
	if (fs::exists(d.path) && fs::exists(failed_path)) {
		std::istringstream in(take(kp::support::read_text_file(failed_path)));
		for (std::string line; std::getline(in, line);)
			if (!line.empty())
				d.failed.push_back(line);
		d.hit = true;
		return d;
	}
	restore_tree(prepared.dir);
	auto start = std::chrono::steady_clock::now();
	DryRun dry = kbuild_dry_run(prepared.dir, prepared.make_vars, log);
	std::string scratch = prepared.dir + ".deps.scratch";
	if (fs::exists(scratch))
		take(kp::support::remove_tree(scratch));
	DependencyScan scan = scan_dependencies(prepared.dir, dry, scratch, jobs, log);
	take(kp::support::remove_tree(scratch));
	// Generated sources exist only once built: build those objects (Kbuild makes their
	// sources first) and read Kbuild's own records of them.
	if (!scan.generated.empty()) {
		try {
			compile_objects(prepared, prepared.dir, scan.generated, jobs, log);
		} catch (const Error &) {
			// Each object without a record is reported below.
		}
		for (const auto &obj : scan.generated) {
			std::optional<ObjectDeps> built = kbuild_record(prepared.dir, obj, log);
			if (built)
				scan.records.push_back(std::move(*built));
			else
				scan.failed.push_back(obj +
				                      ": its generated source could not be built");
		}
	}
	// Records naming a header Kbuild generates: built (make -k: one that cannot be built
	// here, init/version.o, stops none of the others), Kbuild's record replaces the
	// dependency pass's; an object that did not build keeps the partial record.
	if (!scan.partial.empty()) {
		std::vector<std::string> targets{"-k"};
		targets.insert(targets.end(), scan.partial.begin(), scan.partial.end());
		try {
			run_make(prepared.dir, prepared.make_vars, targets, jobs, log,
			         "compiling objects that include generated headers");
		} catch (const Error &) {
		}
		std::set<std::string> partial(scan.partial.begin(), scan.partial.end());
		for (auto &record : scan.records) {
			if (!partial.count(record.object))
				continue;
			if (std::optional<ObjectDeps> built =
			            kbuild_record(prepared.dir, record.object, log))
				record = std::move(*built);
		}
	}
	{
		std::ofstream out(failed_path + ".tmp", std::ios::trunc);
		for (const auto &f : scan.failed)
			out << f << "\n";
		if (!out)
			throw Error("cannot write " + failed_path + ".tmp");
	}
	fs::rename(failed_path + ".tmp", failed_path);
	write_dependency_index(d.path, scan.records);
	d.failed = std::move(scan.failed);
	d.objects = scan.records.size();
	d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	return d;
}

} // namespace kp::build
