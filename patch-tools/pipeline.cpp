#include "pipeline.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <kp/abi.h>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "build.h"
#include "cache.h"
#include "cache_evict.h"
#include "diff_stage.h"
#include "error.h"
#include "kbuild_deps.h"
#include "kernel_info.h"
#include "kpatch_headers.h"
#include "ksym/symbols.h"
#include "link.h"
#include "module_check.h"
#include "patch_apply.h"
#include "patch_parse.h"
#include "progress.h"
#include "target_stage.h"
#include "tree_copy.h"

namespace kp::build {
namespace fs = std::filesystem;

std::string module_name_for(const std::string &name)
{
	std::string n = sanitize_module_name(name);
	if (n.rfind("kp-", 0) != 0 && n.rfind("kp_", 0) != 0)
		n = "kp-" + n;
	if (n.size() > 55)
		n.resize(55); // MODULE_NAME_LEN - 1
	return n;
}

ModuleOutput module_output(const Options &opt)
{
	ModuleOutput out;
	out.module = module_name_for(opt.name.empty() ? opt.patches.front() : opt.name);
	out.path =
	        fs::absolute(opt.output.empty() ? "./" + out.module + ".ko" : opt.output).string();
	if (out.path.size() < 3 || out.path.compare(out.path.size() - 3, 3, ".ko") != 0)
		throw Error("output " + out.path + " must end in .ko");
	if (!opt.output.empty() && opt.name.empty())
		out.module = sanitize_module_name(fs::path(out.path).stem().string());
	return out;
}

namespace {

std::string flat_name(const std::string &object)
{
	std::string s = object;
	for (char &c : s)
		if (c == '/')
			c = '_';
	return s;
}

struct WorkDir {
	std::string path;
	std::optional<WorkDirLock> lock; // released after the directory is removed
	bool keep = false;
	bool success = false;
	~WorkDir()
	{
		if (path.empty() || keep)
			return;
		try {
			if (success) {
				remove_tree(path);
			} else {
				remove_tree(path + "/tree"); // keep the log of a failed build
			}
		} catch (...) {
		}
	}
};

// Everything one run knows, filled stage by stage.
struct Build {
	Build(const Options &o, WorkDir &w, Log &l)
	    : opt(o), work(w), log(l), progress(l, o.verbose)
	{}
	const Options &opt;
	WorkDir &work;
	Log &log;
	Progress progress;
	std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
	int jobs = 1;
	double compiler_seconds = 0;
	std::vector<PatchInfo> patches;
	KernelTree tree;
	std::string module, output, cache_dir;
	std::unique_ptr<CacheEntry> cache;
	std::set<std::string> changed, created;
	Membership membership;
	AffectedObjects affected;
	std::string wtree;
	std::vector<std::string> link_objects;
	std::exception_ptr tree_removal_error;
	std::jthread tree_remover;
	CoreModule core;
	std::string ko, core_out;
	bool core_copied = false;
};

void read_patches(Build &b)
{
	if (b.opt.patches.empty())
		throw Error("no --patch given");
	for (const auto &p : b.opt.patches) {
		b.patches.push_back(parse_patch_file(fs::absolute(p).string()));
		for (const auto &f : b.patches.back().files)
			if (is_assembly_file(f.path))
				throw Error("patch " + p + " changes the assembly file " + f.path +
				                    ": assembly (.S) changes are not supported",
				            kExitUnsupported);
	}
}

void name_output(Build &b)
{
	ModuleOutput out = module_output(b.opt);
	b.module = out.module;
	b.output = out.path;
}

void make_work_dir(Build &b)
{
	char tmpl[64];
	std::snprintf(tmpl, sizeof tmpl, "/%s-XXXXXX", b.module.c_str());
	std::string t = b.cache->work_root() + tmpl;
	std::vector<char> buf(t.begin(), t.end());
	buf.push_back('\0');
	if (!mkdtemp(buf.data()))
		throw_errno("cannot create a work directory in " + b.cache->work_root());
	b.work.path = buf.data();
	b.work.lock.emplace(b.work.path);
}

void setup(Build &b)
{
	Stage stage(b.progress, "setup");
	read_patches(b);
	b.tree = inspect_tree(b.opt.src, b.opt.vmlinux, &b.log);
	check_compiler(b.tree);
	name_output(b);
	b.cache_dir = b.opt.cache_dir.empty() ? default_cache_dir()
	                                      : fs::absolute(b.opt.cache_dir).string();
	b.cache = std::make_unique<CacheEntry>(b.cache_dir, make_cache_key(b.tree));
	make_work_dir(b);
	b.log.open(b.work.path + "/kp-build.log");
	const KernelTree &t = b.tree;
	b.log.write("kp-build: tree " + t.src + ", vmlinux " + t.vmlinux + " (build ID " +
	            t.build_id + ", release " + t.release + ")\n");
	stage.done("module " + b.module + ", release " + t.release + ", build ID " +
	           t.build_id.substr(0, 12) + ", work dir " + b.work.path);
}

void original_build(Build &b)
{
	Stage stage(b.progress, "original build");
	double seconds = 0;
	bool hit = b.cache->ensure_original_build(b.tree, b.jobs, b.progress, &seconds);
	stage.add_compiler_time(seconds);
	b.compiler_seconds += seconds;
	stage.done(hit ? "cache hit (" + b.cache->tree() + ")"
	               : "built into the cache (" + b.cache->tree() + ")");
}

// Only reported when it removed something.
void evict_cache(Build &b)
{
	auto start = std::chrono::steady_clock::now();
	size_t max =
	        b.opt.cache_max >= 0 ? static_cast<size_t>(b.opt.cache_max) : cache_max_from_env();
	EvictionReport ev = evict_cache_entries(b.cache_dir, max, b.cache->name());
	for (const auto &busy : ev.busy)
		b.progress.verbose("cache entry " + busy + " is in use: not removed");
	if (ev.removed.empty())
		return;
	std::string list;
	for (const auto &r : ev.removed)
		list += " " + r;
	b.progress.stage_done(
	        "cache eviction",
	        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
	        "kept at most " + std::to_string(max) + " tree(s), removed" + list);
}

void find_affected(Build &b)
{
	for (const auto &p : b.patches)
		for (const auto &f : p.files)
			(f.created ? b.created : b.changed).insert(f.path);
	b.membership = read_membership(b.cache->tree(), &b.log);
	b.affected = find_affected_objects_cached(b.cache->tree(), b.changed, b.membership,
	                                          b.cache->dir() + "/deps-index-v2");
	for (const auto &f : b.changed)
		if (!b.affected.by_file.count(f))
			throw Error(
			        "the patch changes " + f +
			                ", which is not built into vmlinux or any module of this "
			                "configuration (no object's Kbuild dependency record names "
			                "it)",
			        kExitUnsupported);
	for (const auto &[f, objs] : b.affected.by_file) {
		std::string list;
		for (const auto &o : objs)
			list += " " + o;
		b.progress.verbose(f + " ->" + list);
	}
}

void prepare_tree(Build &b, bool sparse)
{
	auto start = std::chrono::steady_clock::now();
	std::set<std::string> touched = b.changed;
	touched.insert(b.created.begin(), b.created.end());
	CopyStats ws = sparse ? make_sparse_work_tree(b.cache->tree(), b.wtree, b.affected.objects,
	                                              touched)
	                      : make_work_tree(b.cache->tree(), b.wtree);
	b.progress.verbose(std::string(sparse ? "sparse" : "full") +
	                   " patched copy: " + std::to_string(ws.linked) + " sources linked, " +
	                   std::to_string(ws.linked_dirs) + " source directories linked, " +
	                   std::to_string(ws.copied) + " build files copied in " +
	                   std::to_string(std::chrono::duration<double>(
	                                          std::chrono::steady_clock::now() - start)
	                                          .count()) +
	                   " s");
	for (const auto &p : b.patches)
		apply_patch(p, b.wtree, &b.log);
	install_kpatch_headers(kp_source_dir(), b.wtree, touched);
}

void patched_build(Build &b)
{
	Stage stage(b.progress, "patched build");
	find_affected(b);
	b.wtree = b.work.path + "/tree";
	prepare_tree(b, true);
	double seconds = 0;
	try {
		build_objects(b.wtree, b.affected.objects, b.jobs, b.log, &seconds);
	} catch (const Error &e) {
		// A sparse copy lacks the sources of other directories; when the build needs one
		// the records did not name, build again in a full copy before calling the patch
		// broken.
		b.progress.note("the build failed in the sparse copy (" +
		                first_error_line(e.what()) + "); retrying in a full copy");
		b.log.write("sparse build failure: " + std::string(e.what()) + "\n");
		remove_tree(b.wtree);
		prepare_tree(b, false);
		build_objects(b.wtree, b.affected.objects, b.jobs, b.log, &seconds);
	}
	stage.add_compiler_time(seconds);
	b.compiler_seconds += seconds;
	stage.done(std::to_string(b.changed.size() + b.created.size()) + " file(s) changed, " +
	           std::to_string(b.affected.objects.size()) + " object(s) rebuilt");
}

std::vector<DiffJob> diff_jobs(const Build &b)
{
	std::vector<DiffJob> jobs;
	for (const auto &o : b.affected.objects) {
		DiffJob j;
		j.object = o;
		j.original = b.cache->tree() + "/" + o;
		j.patched = b.wtree + "/" + o;
		j.output = b.work.path + "/diff/" + flat_name(o);
		auto mod = b.membership.module_of.find(o);
		if (mod != b.membership.module_of.end()) {
			j.target = mod->second;
			j.symbols = b.tree.src + "/" + b.membership.module_ko.at(mod->second);
			if (!fs::exists(j.symbols))
				throw Error(o + " belongs to module " + mod->second + " but " +
				            j.symbols + " does not exist");
		} else {
			j.target = KP_OBJ_VMLINUX;
			j.symbols = b.tree.vmlinux;
		}
		jobs.push_back(j);
	}
	return jobs;
}

void diff(Build &b)
{
	Stage stage(b.progress, "diff");
	auto vmlinux = kp::ksym::SymbolTable::open(b.tree.vmlinux);
	if (!vmlinux)
		throw Error(vmlinux.error().message());
	auto results = run_diffs(diff_jobs(b), **vmlinux, b.opt.explain, b.jobs, b.log);
	DiffSummary s = collect_diffs(results, b.opt.explain);
	for (const auto &a : s.anchored)
		b.progress.verbose(a);
	b.link_objects = s.link_objects;
	stage.done(std::to_string(b.link_objects.size()) + " of " + std::to_string(results.size()) +
	           " object(s) changed, " + std::to_string(s.anchored_symbols) +
	           " non-exported symbol(s) anchored, " + std::to_string(s.anchored_relocations) +
	           " relocation(s) rewritten");
}

// The patched tree is not read after the diff: remove it while link runs (the template
// link keeps one CPU busy in make); the cleanup stage waits for it.
void start_tree_removal(Build &b)
{
	if (b.opt.keep_tmp)
		return;
	b.tree_remover = std::jthread([&b] {
		try {
			remove_tree(b.wtree);
		} catch (...) {
			b.tree_removal_error = std::current_exception();
		}
	});
}

void link(Build &b)
{
	Stage stage(b.progress, "link");
	std::string src_dir = kp_source_dir();
	double seconds = 0;
	b.core = ensure_core_module(src_dir, b.tree.src, b.cache_dir, b.log, &seconds);
	LinkRequest req;
	req.template_dir = src_dir + "/kmod/patch";
	req.kdir = b.tree.src;
	req.out_dir = b.work.path + "/module";
	req.module = b.module;
	req.objects = b.link_objects;
	req.build_id = b.tree.build_id;
	req.release = b.tree.release;
	for (const auto &p : b.patches) {
		std::string base =
		        sanitize_module_name(p.file) + fs::path(p.file).extension().string();
		req.sources.push_back(base + ":" + sha256_file(p.file, &b.log));
	}
	req.core_symvers = b.core.symvers;
	req.jobs = b.jobs;
	b.ko = link_module(req, b.log, &seconds);
	stage.add_compiler_time(seconds);
	b.compiler_seconds += seconds;
	stage.done(std::string(b.core.built_now ? "kp_core.ko built, " : "") +
	           fs::path(b.ko).filename().string());
}

// The module goes to the output; the core it was linked against beside it (a different
// one there, of another kp version, is replaced).  Both atomically.
void module_check(Build &b)
{
	Stage stage(b.progress, "module check");
	ModuleFacts facts = check_module(b.ko, b.tree.src + "/Module.symvers", b.core.symvers,
	                                 b.tree.build_id, b.tree.release);
	check_versions({b.ko}, b.tree.vmlinux);
	Installed in = install_module(b.ko, b.core.ko, b.output);
	b.core_out = in.core;
	b.core_copied = in.core_copied;
	stage.done(std::to_string(facts.funcs) + " function(s), " +
	           (facts.values ? std::to_string(facts.values) + " transferred value(s), " : "") +
	           std::to_string(facts.syms) + " symbol record(s), vermagic '" + facts.vermagic +
	           "'");
}

void cleanup(Build &b)
{
	if (b.opt.keep_tmp)
		return;
	Stage stage(b.progress, "cleanup");
	b.tree_remover.join();
	if (b.tree_removal_error)
		std::rethrow_exception(b.tree_removal_error);
	remove_tree(b.work.path); // part of the run's time
	b.work.path.clear();
	stage.done("work dir removed");
}

void summary(Build &b)
{
	double total =
	        std::chrono::duration<double>(std::chrono::steady_clock::now() - b.start).count();
	char line[256];
	std::snprintf(line, sizeof line,
	              "total %.2f s, of which in the compiler (make) %.2f s, outside it %.1f%%",
	              total, b.compiler_seconds,
	              total > 0 ? 100.0 * (total - b.compiler_seconds) / total : 0.0);
	b.progress.note(line);
	b.progress.note("wrote " + b.output + (b.core_copied ? " and " + b.core_out : ""));
}

// --cache-only: the original build alone (e.g. diffgen's real-object tests read its objects).
int cache_only(Build &b)
{
	b.tree = inspect_tree(b.opt.src, b.opt.vmlinux, &b.log);
	check_compiler(b.tree);
	b.cache_dir = b.opt.cache_dir.empty() ? default_cache_dir()
	                                      : fs::absolute(b.opt.cache_dir).string();
	b.cache = std::make_unique<CacheEntry>(b.cache_dir, make_cache_key(b.tree));
	original_build(b);
	evict_cache(b);
	std::printf("%s\n", b.cache->tree().c_str());
	b.work.success = true;
	return kExitBuilt;
}

int run(const Options &opt, WorkDir &work, Log &log)
{
	if (!opt.kernels.empty())
		return run_for_release(opt);
	// No SRC, or an unbuilt one (no vmlinux, none given), and no --kernel: the target is
	// the kernel this machine runs.
	if (opt.src.empty() || (opt.vmlinux.empty() && !fs::exists(opt.src + "/vmlinux") &&
	                        !fs::exists(opt.src + "/.config"))) {
		struct utsname u;
		if (uname(&u) != 0)
			throw_errno("uname");
		Options running = opt;
		running.kernels = {u.release};
		if (opt.src.empty())
			std::fprintf(stderr,
			             "kp-build: no --src or --kernel: building for the running "
			             "kernel %s from its source\n",
			             u.release);
		else
			std::fprintf(stderr,
			             "kp-build: %s is not a built tree: building for the running "
			             "kernel %s\n",
			             opt.src.c_str(), u.release);
		return run_for_release(running);
	}
	Build b(opt, work, log);
	b.jobs = opt.jobs > 0 ? opt.jobs
	                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
	if (opt.cache_only)
		return cache_only(b);
	setup(b);
	original_build(b);
	evict_cache(b);
	patched_build(b);
	diff(b);
	start_tree_removal(b);
	link(b);
	module_check(b);
	cleanup(b);
	summary(b);
	work.success = true;
	return kExitBuilt;
}

} // namespace

int run_kp_build(const Options &opt)
{
	WorkDir work;
	work.keep = opt.keep_tmp;
	Log log;
	try {
		return run(opt, work, log);
	} catch (const Error &e) {
		const char *kind = e.code() == kExitUnsupported ? "refused"
		                   : e.code() == kExitNoChange  ? "nothing to do"
		                                                : "error";
		std::fprintf(stderr, "kp-build: %s: %s\n", kind, e.what());
		if (!log.path().empty())
			std::fprintf(stderr, "kp-build: log: %s\n", log.path().c_str());
		return e.code();
	} catch (const std::exception &e) {
		std::fprintf(stderr, "kp-build: error: %s\n", e.what());
		if (!log.path().empty())
			std::fprintf(stderr, "kp-build: log: %s\n", log.path().c_str());
		return kExitError;
	}
}

} // namespace kp::build
