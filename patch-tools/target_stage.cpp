#include "target_stage.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "cache.h"
#include "cache_evict.h"
#include "debian_packages.h"
#include "diff_stage.h"
#include "elf/object.h"
#include "entry_types.h"
#include "error.h"
#include "kbuild_deps.h"
#include "kp/abi.h"
#include "ksym/symbols.h"
#include "link.h"
#include "module_check.h"
#include "patch_apply.h"
#include "patch_parse.h"
#include "pipeline.h"
#include "process.h"
#include "progress.h"
#include "run_pre.h"
#include "target_kernel.h"
#include "tree_copy.h"
#include "tree_prepare.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t)
{
	return std::chrono::duration<double>(Clock::now() - t).count();
}

void say(const std::string &what, double seconds)
{
	std::fprintf(stderr, "kp-build: %s (%.1f s)\n", what.c_str(), seconds);
}

bool is_c_file(const std::string &path)
{
	return path.size() > 2 && path.compare(path.size() - 2, 2, ".c") == 0;
}

// The objects the patches rebuild: each changed .c file's object, and every object of the
// release's config that reads a changed header (the release's dependency index, made the
// first time a patch changes a header).
std::vector<std::string> patch_objects(const std::vector<PatchInfo> &patches,
                                       const PreparedTree &prepared, int jobs, Log &log)
{
	std::set<std::string> objs, headers;
	for (const auto &p : patches)
		for (const auto &f : p.files) {
			if (is_c_file(f.path))
				objs.insert(f.path.substr(0, f.path.size() - 2) + ".o");
			else
				headers.insert(f.path);
		}
	if (headers.empty())
		return {objs.begin(), objs.end()};
	auto t = Clock::now();
	DependencyIndex index = dependency_index(prepared, jobs, &log);
	AffectedObjects hit = query_dependency_index(index.path, headers);
	for (const auto &h : headers) {
		auto it = hit.by_file.find(h);
		if (it == hit.by_file.end())
			throw Error("the patch changes " + h +
			                    ", which no object of this kernel's config reads "
			                    "(dependency index " +
			                    index.path + ")",
			            kExitUnsupported);
		log.write(h + " is read by " + std::to_string(it->second.size()) + " object(s)\n");
	}
	objs.insert(hit.objects.begin(), hit.objects.end());
	say("dependency index: " +
	            (index.hit ? std::string("cache hit")
	                       : "Kbuild dry run + preprocessor pass over " +
	                                 std::to_string(index.objects) + " objects") +
	            "; the changed header(s) reach " + std::to_string(hit.objects.size()) +
	            " object(s) (index " + index.path + ")",
	    since(t));
	if (!index.failed.empty())
		std::fprintf(
		        stderr,
		        "kp-build: note: %zu object(s) of this config were not scanned (first: "
		        "%s); see %s.failed\n",
		        index.failed.size(), index.failed.front().c_str(), index.path.c_str());
	return {objs.begin(), objs.end()};
}

bool same_function(const FunctionCode &a, const FunctionCode &b)
{
	return a.bytes == b.bytes && a.relocated == b.relocated;
}

std::string make_work_dir(const std::string &cache, const std::string &release)
{
	std::string t = cache + "/work/" + release + "-XXXXXX";
	fs::create_directories(cache + "/work");
	std::vector<char> buf(t.begin(), t.end());
	buf.push_back('\0');
	if (!mkdtemp(buf.data()))
		throw_errno("cannot create a work directory in " + cache + "/work");
	return buf.data();
}

// The module an object of the prepared tree goes into, "" for vmlinux: Kbuild compiles a
// module's objects with -DMODULE and names the module in KBUILD_MODNAME (the object's .cmd).
std::string object_module(const std::string &tree, const std::string &obj)
{
	std::string cmd_file = object_record_path(tree, obj);
	std::ifstream in(cmd_file);
	std::string cmd;
	if (!in || !std::getline(in, cmd))
		throw Error("cannot read " + cmd_file + ", Kbuild's record of how " + obj +
		            " was compiled");
	if (cmd.find(" -DMODULE ") == std::string::npos)
		return {};
	const std::string key = "-DKBUILD_MODNAME='\"";
	auto p = cmd.find(key);
	if (p == std::string::npos)
		throw Error(cmd_file + ": a module object without KBUILD_MODNAME");
	p += key.size();
	return cmd.substr(p, cmd.find('"', p) - p);
}

// The release's file of module `name`, from modules.order (Kbuild's list of the modules it
// built, shipped in the image package; modules.dep is made by the package's postinst, so an
// unpacked package has none). modules.order names each file relative to the modules
// directory; a file name's '-' is '_' in the module's name.
std::string module_file(const TargetKernel &t, const std::string &name)
{
	if (t.modules.empty())
		throw Error("the patch changes module " + name + " but no modules of " + t.release +
		            " were found (--modules)");
	const std::string order = t.modules + "/modules.order";
	std::string path = module_order_path(read_text_file(order), name);
	if (path.empty())
		throw Error("module " + name + " is not in " + order + ": " + t.release +
		            " does not build it");
	if (fs::exists(t.modules + "/" + path))
		return t.modules + "/" + path;
	for (const char *z : {".xz", ".zst", ".gz"})
		if (fs::exists(t.modules + "/" + path + z))
			throw Error("module " + name + " of " + t.release + " is compressed (" +
			            path + z + "): compressed modules are not supported yet");
	throw Error(order + " names " + path + " but " + t.modules + " has no such file");
}

// What an object of the patch is linked into: vmlinux or a module, and the release's image
// of it (the -dbg vmlinux, or the module's .ko of the image package).
struct ObjectTarget {
	std::string module; // "" for vmlinux
	std::string image;
};

ObjectTarget object_target(const TargetKernel &target, const PreparedTree &prepared,
                           const std::string &obj)
{
	std::string mod = object_module(prepared.dir, obj);
	return {mod, mod.empty() ? target.vmlinux : module_file(target, mod)};
}

// Run-pre on the functions the patch changes (bytes or relocated ranges differ between
// the original and the patched object; a finer list comes with diffgen): each must be the
// code of the image the object went into. Returns how many were checked.
size_t run_pre_stage(const std::vector<std::pair<std::string, std::string>> &orig,
                     const std::map<std::string, std::string> &patched,
                     const std::map<std::string, ObjectTarget> &targets)
{
	std::map<std::string, std::unique_ptr<ImageFunctions>> images;
	size_t checked = 0;
	for (const auto &[obj, path] : orig) {
		const std::string &image_path = targets.at(obj).image;
		auto &image = images[image_path];
		if (!image)
			image = std::make_unique<ImageFunctions>(image_path);
		std::map<std::string, FunctionCode> after;
		for (auto &f : object_functions(patched.at(obj)))
			after.emplace(f.name, std::move(f));
		std::vector<FunctionCode> before = object_functions(path);
		// An object the config does not build still compiles (Kbuild builds any single
		// target): none of its functions is the image's code, not even by chance of name.
		if (!before.empty() &&
		    std::none_of(before.begin(), before.end(), [&](const auto &f) {
			    return !image->find(f.name).empty() && run_pre_check(f, *image).match;
		    }))
			throw Error("the patch changes " + obj.substr(0, obj.size() - 2) +
			                    ".c, which this kernel's config does not build: none "
			                    "of the " +
			                    std::to_string(before.size()) + " functions of " + obj +
			                    " is code of " + image_path,
			            kExitUnsupported);
		for (const auto &f : before) {
			auto it = after.find(f.name);
			if (it != after.end() && same_function(f, it->second))
				continue;
			RunPreResult r = run_pre_check(f, *image);
			if (!r.match)
				throw Error("run-pre: " + f.name + " (" + obj +
				            ") compiled from the source is not the kernel's: " +
				            r.describe());
			++checked;
		}
	}
	return checked;
}

std::vector<DiffJob> diff_jobs(const ObjectPairs &pairs,
                               const std::map<std::string, ObjectTarget> &targets,
                               const std::string &entry_types, const std::string &work)
{
	std::vector<DiffJob> jobs;
	for (size_t i = 0; i < pairs.orig.size(); ++i) {
		DiffJob j;
		j.object = pairs.orig[i].first;
		j.original = pairs.orig[i].second;
		j.patched = pairs.patched[i].second;
		j.output = work + "/diff/" + fs::path(j.original).filename().string();
		const ObjectTarget &t = targets.at(j.object);
		j.target = t.module.empty() ? std::string(KP_OBJ_VMLINUX) : t.module;
		j.symbols = t.image;
		j.dwarf = {entry_types};
		jobs.push_back(j);
	}
	return jobs;
}

std::string image_build_id(const std::string &vmlinux)
{
	auto f = kp::elf::Object::open(vmlinux, {.relocatable_only = false, .relocations = false});
	if (!f)
		throw Error(f.error().message());
	std::string id = (*f)->build_id();
	if (id.empty())
		throw Error(vmlinux + " has no GNU build ID note");
	return id;
}

// Diff, link against the prepared tree (the release's config, headers and Module.symvers,
// so vermagic and __versions are the kernel's), check what the kernel's loader would check,
// install the module and kp_core.ko beside it.
// A module built for one release, installed when every release has built.
struct BuiltModule {
	std::string ko, core, output;
};

BuiltModule write_module(const Options &opt, const TargetKernel &target,
                         const PreparedTree &prepared, const ObjectPairs &pairs,
                         const std::map<std::string, ObjectTarget> &targets,
                         const std::string &cache, const std::string &work, int jobs, Log &log)
{
	ModuleOutput out = module_output(opt);
	auto t = Clock::now();
	auto vmlinux = kp::ksym::SymbolTable::open(target.vmlinux);
	if (!vmlinux)
		throw Error(vmlinux.error().message());
	std::string entry_types = ensure_entry_types(prepared, &log);
	auto results = run_diffs(diff_jobs(pairs, targets, entry_types, work), **vmlinux,
	                         opt.explain, jobs, log);
	DiffSummary diff = collect_diffs(results, opt.explain);
	say("diff: " + std::to_string(diff.link_objects.size()) + " of " +
	            std::to_string(results.size()) + " object(s) changed, " +
	            std::to_string(diff.anchored_symbols) + " non-exported symbol(s) anchored",
	    since(t));

	t = Clock::now();
	install_symvers(prepared, target.symvers, &log);
	std::string src_dir = kp_source_dir();
	CoreModule core =
	        ensure_core_module(src_dir, prepared.dir, cache, log, nullptr, prepared.make_vars);
	LinkRequest req;
	req.template_dir = src_dir + "/kmod/patch";
	req.kdir = prepared.dir;
	req.out_dir = work + "/module";
	req.module = out.module;
	req.objects = diff.link_objects;
	req.build_id = image_build_id(target.vmlinux);
	req.release = target.release;
	for (const auto &p : opt.patches)
		req.sources.push_back(sanitize_module_name(p) + fs::path(p).extension().string() +
		                      ":" + sha256_file(p, &log));
	req.core_symvers = core.symvers;
	req.make_vars = prepared.make_vars;
	req.jobs = jobs;
	std::string ko = link_module(req, log);
	say(std::string("link: ") + (core.built_now ? "kp_core.ko built for " : "kp_core.ko for ") +
	            target.release + ", " + fs::path(ko).filename().string(),
	    since(t));

	t = Clock::now();
	ModuleFacts facts =
	        check_module(ko, target.symvers, core.symvers, req.build_id, target.release);
	size_t versions = check_versions({ko, core.ko}, target.vmlinux);
	say("module check: " + std::to_string(facts.funcs) + " function(s), vermagic '" +
	            facts.vermagic + "', " + std::to_string(versions) +
	            " symbol CRC(s) equal to the kernel's",
	    since(t));
	return {ko, core.ko, out.path};
}

std::optional<BuiltModule> build_for(const Options &opt, const TargetKernel &target,
                                     const std::string &cache, const std::string &work, Log &log)
{
	int jobs = opt.jobs > 0
	                   ? opt.jobs
	                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
	std::vector<PatchInfo> patches;
	for (const auto &p : opt.patches)
		patches.push_back(parse_patch_file(fs::absolute(p).string()));
	auto t = Clock::now();
	PreparedTree prepared = prepare_tree(
	        {target.src, target.src_debian, target.release, target.config, cache, jobs}, &log);
	say(prepared.hit ? "tree preparation: cache hit (" + prepared.dir + ")"
	                 : "tree preparation: olddefconfig + modules_prepare in " + prepared.dir,
	    since(t));
	std::vector<std::string> objs = patch_objects(patches, prepared, jobs, log);

	t = Clock::now();
	ObjectPairs pairs = compile_before_after(prepared, patches, objs, work, jobs, &log);
	say("objects before and after the patch: " + std::to_string(objs.size()) + " compiled",
	    since(t));
	std::map<std::string, std::string> patched(pairs.patched.begin(), pairs.patched.end());
	std::map<std::string, ObjectTarget> targets;
	for (const auto &o : objs)
		targets.emplace(o, object_target(target, prepared, o));

	t = Clock::now();
	size_t checked = run_pre_stage(pairs.orig, patched, targets);
	say("run-pre: the " + std::to_string(checked) +
	            " function(s) the patch changes are the kernel's code",
	    since(t));
	if (opt.check_only)
		return std::nullopt;
	return write_module(opt, target, prepared, pairs, targets, cache, work, jobs, log);
}

} // namespace

namespace {

// One release's work: its resolved files, its work directory (removed with it unless
// --keep-tmp) and its log.
struct ReleaseRun {
	TargetKernel target;
	std::string work;
	std::optional<WorkDirLock> work_lock; // released after the work directory is removed
	std::unique_ptr<Log> log;
	bool keep = false;
	ReleaseRun() = default;
	ReleaseRun(ReleaseRun &&) = default;
	~ReleaseRun()
	{
		if (!work.empty() && !keep)
			try {
				remove_tree(work);
			} catch (...) {
			}
	}
};

// Bounds the per-release cache: the trees and sources just used are the most recently used,
// so they are kept.
void evict_release_entries(const Options &opt, const std::string &cache)
{
	auto t = Clock::now();
	size_t max = opt.cache_max >= 0 ? static_cast<size_t>(opt.cache_max) : cache_max_from_env();
	EvictionReport ev = evict_release_cache(cache, max, {});
	if (ev.removed.empty())
		return;
	std::string list;
	for (const auto &r : ev.removed)
		list += (list.empty() ? "" : ", ") + r;
	say("cache eviction: kept at most " + std::to_string(max) + " per kind, removed " + list,
	    since(t));
}

// With several --kernel, -o names a directory (default .): DIR/RELEASE/MODULE.ko, each
// with the kp_core.ko of its release beside it.
Options options_for(const Options &opt, const std::string &release)
{
	if (opt.kernels.size() == 1)
		return opt;
	Options one = opt;
	one.output.clear(); // a directory here: the name comes from --name or the patch
	one.name = module_output(one).module;
	std::string dir = opt.output.empty() ? "." : opt.output;
	one.output = (fs::absolute(dir) / release / (one.name + ".ko")).string();
	return one;
}

} // namespace

int run_for_release(const Options &opt)
{
	bool overrides = !opt.config.empty() || !opt.symvers.empty() || !opt.vmlinux.empty() ||
	                 !opt.modules.empty();
	if (opt.kernels.size() > 1 && overrides)
		throw Error("--config, --symvers, --vmlinux and --modules name one kernel's files: "
		            "give "
		            "them with one --kernel");
	if (opt.kernels.size() > 1 && !opt.output.empty() &&
	    fs::path(opt.output).extension() == ".ko")
		throw Error("with several --kernel, -o is a directory (one module per release in "
		            "DIR/RELEASE/), not " +
		            opt.output);
	for (size_t i = 0; i < opt.kernels.size(); ++i)
		if (std::find(opt.kernels.begin(), opt.kernels.begin() + i, opt.kernels[i]) !=
		    opt.kernels.begin() + i)
			throw Error("--kernel " + opt.kernels[i] + " is given twice");
	std::string cache =
	        opt.cache_dir.empty() ? default_cache_dir() : fs::absolute(opt.cache_dir).string();
	FetcherArchive archive(default_fetcher(), cache + "/debian");
	// Every release is resolved (versions checked, packages fetched) before any is built.
	std::vector<ReleaseRun> runs;
	for (const auto &release : opt.kernels) {
		TargetRequest q;
		q.release = release;
		q.src = opt.src.empty() ? std::string{} : fs::absolute(opt.src).string();
		q.config = opt.config;
		q.symvers = opt.symvers;
		q.vmlinux = opt.vmlinux;
		q.modules = opt.modules;
		q.need_vmlinux = !opt.resolve_only;
		q.need_source = !opt.resolve_only;
		auto t = Clock::now();
		ReleaseRun r;
		r.target = resolve_target(q, &archive);
		if (opt.resolve_only) {
			std::fputs(r.target.describe().c_str(), stdout);
			continue;
		}
		say("kernel " + r.target.release + ": " + r.target.origin + "; source " +
		            r.target.src +
		            (r.target.src_from.empty() ? "" : " (" + r.target.src_from + ")"),
		    since(t));
		runs.push_back(std::move(r));
	}
	// Built one after the other (each make uses every CPU); installed only when all built.
	std::vector<BuiltModule> built;
	for (auto &r : runs) {
		r.work = make_work_dir(cache, r.target.release);
		r.work_lock.emplace(r.work);
		r.keep = opt.keep_tmp;
		r.log = std::make_unique<Log>(r.work + "/kp-build.log");
		try {
			auto m = build_for(options_for(opt, r.target.release), r.target, cache,
			                   r.work, *r.log);
			if (m)
				built.push_back(*m);
		} catch (...) {
			r.keep = true;
			std::fprintf(
			        stderr,
			        "kp-build: log: %s/kp-build.log (the work directories of the last "
			        "%zu failed runs are kept)\n",
			        r.work.c_str(), kWorkDirsKept);
			throw;
		}
	}
	evict_release_entries(opt, cache);
	for (const auto &m : built) {
		fs::create_directories(fs::path(m.output).parent_path());
		Installed in = install_module(m.ko, m.core, m.output);
		std::fprintf(stderr, "kp-build: wrote %s%s\n", m.output.c_str(),
		             in.core_copied ? (" and " + in.core).c_str() : "");
	}
	return kExitBuilt;
}

} // namespace kp::build
