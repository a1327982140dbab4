#include "own_target.h"

#include <chrono>
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
		StageReport r;
		bool hit = cache_->ensure_original_build(tree_, ctx.jobs, ctx.progress,
		                                         &r.compiler_seconds);
		r.detail = hit ? "cache hit (" + cache_->tree() + ")"
		               : "built into the cache (" + cache_->tree() + ")";
		// Eviction reports its own stage line, when it removed something.
		evict_cache(ctx.opt, ctx.cache_dir, *cache_, ctx.progress);
		return r;
	}

	TargetObjects objects(const std::vector<PatchInfo> &patches, RunContext &ctx) override
	{
		Touched t = touched_files(patches);
		membership_ = read_membership(cache_->tree(), &ctx.log);
		AffectedObjects affected = find_affected_objects_cached(
		        cache_->tree(), t.changed, membership_, cache_->dir() + "/deps-index-v2");
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
		prepare_copy(patches, objects, touched, wtree, true, ctx);
		BuiltObjects out;
		double &seconds = out.report.compiler_seconds;
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
			prepare_copy(patches, objects, touched, wtree, false, ctx);
			build_objects(wtree, objects, ctx.jobs, ctx.log, &seconds);
		}
		for (const auto &o : objects)
			out.objects.push_back(patch_object(o, wtree));
		out.report.detail = std::to_string(touched.size()) + " file(s) changed, " +
		                    std::to_string(objects.size()) + " object(s) rebuilt";
		return out;
	}

	std::vector<std::string> entry_type_dwarf(RunContext &) override { return {}; }

	LinkTree link_tree(RunContext &) override
	{
		return {tree_.src, {}, tree_.src + "/Module.symvers"};
	}

	const CacheEntry &cache() const { return *cache_; }

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
	OwnTarget target(std::move(tree));
	RunContext ctx{opt, job_count(opt), cache_dir(opt), {}, log, progress};
	Stage stage(progress, "original build");
	StageReport r = target.build_original(ctx);
	stage.add_compiler_time(r.compiler_seconds);
	stage.done(r.detail);
	return target.cache().tree();
}

} // namespace kp::build
