#include "own_target.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <kp/abi.h>
#include <set>

#include "build.h"
#include "cache.h"
#include "cache_evict.h"
#include "error.h"
#include "kbuild_deps.h"
#include "kernel_info.h"
#include "kpatch_headers.h"
#include "patch_apply.h"
#include "patch_parse.h"
#include "progress.h"
#include "source_dir.h"
#include "support/files.h"
#include "tree_copy.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {

// Only reported when it removed something.
void evict_cache(const Options &opt, const std::string &cache_dir, const CacheEntry &keep,
                 Progress &progress)
{
	auto start = std::chrono::steady_clock::now();
	size_t max = opt.cache_max >= 0 ? static_cast<size_t>(opt.cache_max) : cache_max_from_env();
	EvictionReport ev = evict_cache_entries(cache_dir, max, keep.name());
	for (const auto &busy : ev.busy)
		progress.verbose("cache entry " + busy + " is in use: not removed");
	if (ev.removed.empty())
		return;
	std::string list;
	for (const auto &r : ev.removed)
		list += " " + r;
	progress.stage_done(
	        "cache eviction",
	        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
	        "kept at most " + std::to_string(max) + " tree(s), removed" + list);
}

std::string seconds_text(double s)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.1f", s);
	return buf;
}

// --prebuild: the objects of SRC's build (vmlinux's and the modules') under each path, a
// directory or one object. A path that holds none is an error.
std::vector<std::string> objects_under(const std::string &src,
                                       const std::vector<std::string> &paths, Log &log)
{
	Membership m = read_membership(src, &log);
	std::set<std::string> out;
	std::vector<std::string> records = list_object_records(src);
	for (std::string p : paths) {
		while (p.size() > 1 && p.back() == '/')
			p.pop_back();
		size_t before = out.size();
		bool found = false;
		for (const auto &o : records) {
			if (!m.vmlinux.count(o) && !m.module_of.count(o))
				continue;
			if (o == p || (o.size() > p.size() && o.compare(0, p.size(), p) == 0 &&
			               o[p.size()] == '/')) {
				out.insert(o);
				found = true;
			}
		}
		if (!found)
			throw Error("--prebuild " + p + ": no object of " + src +
			            "'s build (vmlinux or a module) is there");
		log.write("--prebuild " + p + ": " + std::to_string(out.size() - before) +
		          " object(s)\n");
	}
	return {out.begin(), out.end()};
}

// The files the patches change and create.
struct Touched {
	std::set<std::string> changed, created;
	std::set<std::string> all() const
	{
		std::set<std::string> t = changed;
		t.insert(created.begin(), created.end());
		return t;
	}
};

Touched touched_files(const std::vector<PatchInfo> &patches)
{
	Touched t;
	for (const auto &p : patches)
		for (const auto &f : p.files)
			(f.created ? t.created : t.changed).insert(f.path);
	return t;
}

class OwnTarget final : public Target {
public:
	explicit OwnTarget(KernelTree tree) : tree_(std::move(tree)) {}
	const std::string &release() const override { return tree_.release; }
	const std::string &vmlinux() const override { return tree_.vmlinux; }
	const std::string &build_id() const override { return tree_.build_id; }

	StageReport build_original(RunContext &ctx) override
	{
		cache_ = std::make_unique<CacheEntry>(ctx.cache_dir, make_cache_key(tree_));
		auto start = std::chrono::steady_clock::now();
		bool hit = cache_->ensure_tree(tree_, ctx.progress);
		double took =
		        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
		                .count();
		StageReport r;
		if (hit)
			r.detail = "cache hit (" + cache_->tree() + ")";
		else
			r.detail = "copy of the built tree made in the cache (" + cache_->tree() +
			           ", " + seconds_text(took) +
			           " s); objects are compiled as patches reach them";
		// Eviction reports its own stage line, when it removed something.
		evict_cache(ctx.opt, ctx.cache_dir, *cache_, ctx.progress);
		return r;
	}

	TargetObjects objects(const std::vector<PatchInfo> &patches, RunContext &ctx) override
	{
		Touched t = touched_files(patches);
		// The user's build says what is built in and what each object read.
		membership_ = read_membership(tree_.src, &ctx.log);
		AffectedObjects affected = find_affected_objects_cached(
		        tree_.src, t.changed, membership_, cache_->dir() + "/deps-index-v2");
		for (const auto &f : t.changed)
			if (!affected.by_file.count(f))
				throw Error(
				        ErrorKind::unsupported,
				        "the patch changes " + f +
				                ", which is not built into vmlinux or any module "
				                "of "
				                "this configuration (no object's Kbuild dependency "
				                "record names it)");
		for (const auto &[f, objs] : affected.by_file) {
			std::string list;
			for (const auto &o : objs)
				list += " " + o;
			ctx.progress.verbose(f + " ->" + list);
		}
		return {affected.objects,
		        {std::to_string(t.changed.size() + t.created.size()) +
		         " file(s) changed, " + std::to_string(affected.objects.size()) +
		         " object(s) they reach"}};
	}

	BuiltObjects build(const std::vector<PatchInfo> &patches,
	                   const std::vector<std::string> &objects, RunContext &ctx) override
	{
		std::string wtree = ctx.work + "/tree";
		std::set<std::string> touched = touched_files(patches).all();
		BuiltObjects out;
		double &seconds = out.report.compiler_seconds;
		size_t compiled = 0;
		{
			auto lock = cache_->hold_build_lock();
			compiled = cache_->compile_originals(objects, ctx.jobs, ctx.progress,
			                                     &seconds);
			prepare_copy(patches, objects, touched, wtree, true, ctx);
		}
		try {
			build_objects(wtree, objects, ctx.jobs, ctx.log, &seconds);
		} catch (const Error &e) {
			// A sparse copy lacks the sources of other directories; when the build
			// needs one the records did not name, build again in a full copy before
			// calling the patch broken.
			ctx.progress.note("the build failed in the sparse copy (" +
			                  first_error_line(e.what()) +
			                  "); retrying in a full copy");
			ctx.log.write("sparse build failure: " + std::string(e.what()) + "\n");
			take(kp::support::remove_tree(wtree));
			{
				auto lock = cache_->hold_build_lock();
				prepare_copy(patches, objects, touched, wtree, false, ctx);
			}
			build_objects(wtree, objects, ctx.jobs, ctx.log, &seconds);
		}
		for (const auto &o : objects)
			out.objects.push_back(patch_object(o, wtree));
		out.report.detail = std::to_string(touched.size()) + " file(s) changed, " +
		                    std::to_string(objects.size()) + " object(s) rebuilt; " +
		                    (compiled ? std::to_string(compiled) +
		                                        " original(s) compiled into the cache"
		                              : std::string("originals from the cache"));
		return out;
	}

	std::vector<std::string> entry_type_dwarf(RunContext &) override { return {}; }

	LinkTree link_tree(RunContext &) override
	{
		return {tree_.src, {}, tree_.src + "/Module.symvers"};
	}

	CacheEntry &cache() const { return *cache_; }

private:
	void prepare_copy(const std::vector<PatchInfo> &patches,
	                  const std::vector<std::string> &objects,
	                  const std::set<std::string> &touched, const std::string &wtree,
	                  bool sparse, RunContext &ctx)
	{
		auto start = std::chrono::steady_clock::now();
		CopyStats ws =
		        sparse ? make_sparse_work_tree(cache_->tree(), wtree, objects, touched)
		               : make_work_tree(cache_->tree(), wtree);
		double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
		                   .count();
		ctx.progress.verbose(std::string(sparse ? "sparse" : "full") +
		                     " patched copy: " + std::to_string(ws.linked) +
		                     " sources linked, " + std::to_string(ws.linked_dirs) +
		                     " source directories linked, " + std::to_string(ws.copied) +
		                     " build files copied in " + std::to_string(s) + " s");
		for (const auto &p : patches)
			apply_patch(p, wtree, &ctx.log);
		install_kpatch_headers(kp_source_dir(), wtree, touched);
	}

	PatchObject patch_object(const std::string &o, const std::string &wtree) const
	{
		PatchObject p{o, cache_->tree() + "/" + o, wtree + "/" + o, {}, tree_.vmlinux};
		auto mod = membership_.module_of.find(o);
		if (mod == membership_.module_of.end())
			return p;
		p.module = mod->second;
		p.image = tree_.src + "/" + membership_.module_ko.at(mod->second);
		if (!fs::exists(p.image))
			throw Error(o + " belongs to module " + mod->second + " but " + p.image +
			            " does not exist");
		return p;
	}

	KernelTree tree_;
	std::unique_ptr<CacheEntry> cache_;
	Membership membership_;
};

} // namespace

std::unique_ptr<Target> open_own_target(const Options &opt, Log &log)
{
	KernelTree tree = inspect_tree(opt.src, opt.vmlinux, &log);
	check_compiler(tree);
	return std::make_unique<OwnTarget>(std::move(tree));
}

std::string build_own_cache(const Options &opt, Log &log, Progress &progress)
{
	KernelTree tree = inspect_tree(opt.src, opt.vmlinux, &log);
	check_compiler(tree);
	std::vector<std::string> objects;
	if (!opt.prebuild.empty())
		objects = objects_under(tree.src, opt.prebuild, log);
	OwnTarget target(std::move(tree));
	RunContext ctx{opt, job_count(opt), cache_dir(opt), {}, log, progress};
	{
		Stage stage(progress, "original build");
		stage.done(target.build_original(ctx).detail);
	}
	if (!objects.empty()) {
		Stage stage(progress, "original objects");
		auto lock = target.cache().hold_build_lock();
		double seconds = 0;
		size_t n = target.cache().compile_originals(objects, ctx.jobs, progress, &seconds);
		stage.add_compiler_time(seconds);
		stage.done(std::to_string(objects.size()) + " object(s) under " +
		           std::to_string(opt.prebuild.size()) + " path(s), " + std::to_string(n) +
		           " compiled, " + std::to_string(objects.size() - n) + " cached");
	}
	return target.cache().tree();
}

} // namespace kp::build
