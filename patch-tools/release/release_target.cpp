#include "release_target.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "cache_evict.h"
#include "debian_packages.h"
#include "elf/object.h"
#include "entry_types.h"
#include "error.h"
#include "kbuild_deps.h"
#include "kernel_info.h"
#include "patch_parse.h"
#include "progress.h"
#include "support/files.h"
#include "target_kernel.h"
#include "tree_prepare.h"

namespace kp::build {
namespace fs = std::filesystem;

namespace {

bool is_c_file(const std::string &path)
{
	return path.size() > 2 && path.compare(path.size() - 2, 2, ".c") == 0;
}

// The objects the patches rebuild: each changed .c file's object, and every object of the
// release's config that reads a changed header (the release's dependency index, made the
// first time a patch changes a header).
TargetObjects patch_objects(const std::vector<PatchInfo> &patches, const PreparedTree &prepared,
                            RunContext &ctx)
{
	std::set<std::string> objs, headers;
	for (const auto &p : patches)
		for (const auto &f : p.files) {
			if (is_c_file(f.path))
				objs.insert(f.path.substr(0, f.path.size() - 2) + ".o");
			else
				headers.insert(f.path);
		}
	std::string changed = std::to_string(objs.size() + headers.size()) + " file(s) changed";
	if (headers.empty())
		return {{objs.begin(), objs.end()},
		        {changed + ", " + std::to_string(objs.size()) + " object(s) they reach"}};
	DependencyIndex index = dependency_index(prepared, ctx.jobs, &ctx.log);
	AffectedObjects hit = query_dependency_index(index.path, headers);
	for (const auto &h : headers) {
		auto it = hit.by_file.find(h);
		if (it == hit.by_file.end())
			throw Error(ErrorKind::unsupported,
			            "the patch changes " + h +
			                    ", which no object of this kernel's config reads "
			                    "(dependency index " +
			                    index.path + ")");
		ctx.log.write(h + " is read by " + std::to_string(it->second.size()) +
		              " object(s)\n");
	}
	objs.insert(hit.objects.begin(), hit.objects.end());
	if (!index.failed.empty())
		ctx.progress.note(std::to_string(index.failed.size()) +
		                  " object(s) of this config were not scanned (first: " +
		                  index.failed.front() + "); see " + index.path + ".failed");
	std::string detail = changed + ", " + std::to_string(objs.size()) +
	                     " object(s) they reach; dependency index: " +
	                     (index.hit ? std::string("cache hit")
	                                : "Kbuild dry run + preprocessor pass over " +
	                                          std::to_string(index.objects) + " objects") +
	                     "; the changed header(s) reach " + std::to_string(hit.objects.size()) +
	                     " object(s) (index " + index.path + ")";
	return {{objs.begin(), objs.end()}, {detail}};
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
// directory (name.ko, installed as name.ko.xz when the kernel compresses its modules); a file
// name's '-' is '_' in the module's name.
std::string module_file(const TargetKernel &t, const std::string &name)
{
	if (t.modules.empty())
		throw Error("the patch changes module " + name + " but no modules of " + t.release +
		            " were found (--modules)");
	const std::string order = t.modules + "/modules.order";
	std::string path = module_order_path(take(kp::support::read_text_file(order)), name);
	if (path.empty())
		throw Error("module " + name + " is not in " + order + ": " + t.release +
		            " does not build it");
	if (fs::exists(t.modules + "/" + path))
		return t.modules + "/" + path;
	// Debian's 6.12 compresses every module (.ko.xz): lib/elf reads it decompressed.
	if (fs::exists(t.modules + "/" + path + ".xz"))
		return t.modules + "/" + path + ".xz";
	for (const char *z : {".zst", ".gz"})
		if (fs::exists(t.modules + "/" + path + z))
			throw Error(ErrorKind::unsupported,
			            "module " + name + " of " + t.release + " is compressed (" +
			                    path + z +
			                    "): kp reads plain and xz-compressed modules only");
	throw Error(order + " names " + path + " but " + t.modules + " has no such file");
}

class ReleaseTarget final : public Target {
public:
	explicit ReleaseTarget(TargetKernel target)
	    : target_(std::move(target)), build_id_(image_build_id(*open_image(target_.vmlinux)))
	{}
	const std::string &release() const override { return target_.release; }
	const std::string &vmlinux() const override { return target_.vmlinux; }
	const std::string &build_id() const override { return build_id_; }

	StageReport build_original(RunContext &ctx) override
	{
		prepared_ = prepare_tree({target_.src, target_.src_debian, target_.release,
		                          target_.config, ctx.cache_dir, ctx.jobs},
		                         &ctx.log);
		return {prepared_.hit ? "tree preparation: cache hit (" + prepared_.dir + ")"
		                      : "tree preparation: olddefconfig + modules_prepare in " +
		                                prepared_.dir,
		        prepared_.seconds};
	}

	TargetObjects objects(const std::vector<PatchInfo> &patches, RunContext &ctx) override
	{
		return patch_objects(patches, prepared_, ctx);
	}

	BuiltObjects build(const std::vector<PatchInfo> &patches,
	                   const std::vector<std::string> &objects, RunContext &ctx) override
	{
		auto start = std::chrono::steady_clock::now();
		ObjectPairs pairs = compile_before_after(prepared_, patches, objects, ctx.work,
		                                         ctx.jobs, &ctx.log);
		BuiltObjects out;
		for (size_t i = 0; i < pairs.orig.size(); ++i) {
			const std::string &obj = pairs.orig[i].first;
			std::string mod = object_module(prepared_.dir, obj);
			out.objects.push_back(
			        {obj, pairs.orig[i].second, pairs.patched[i].second, mod,
			         mod.empty() ? target_.vmlinux : module_file(target_, mod)});
		}
		out.report.detail =
		        "objects before and after the patch: " + std::to_string(objects.size()) +
		        " compiled";
		out.report.compiler_seconds =
		        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
		                .count();
		return out;
	}

	std::vector<std::string> entry_type_dwarf(RunContext &ctx) override
	{
		return {ensure_entry_types(prepared_, &ctx.log)};
	}

	// The prepared tree holds the release's config and headers, and gets its
	// Module.symvers: vermagic and __versions are the kernel's.
	LinkTree link_tree(RunContext &ctx) override
	{
		install_symvers(prepared_, target_.symvers, &ctx.log);
		return {prepared_.dir, prepared_.make_vars, target_.symvers};
	}

private:
	TargetKernel target_;
	std::string build_id_;
	PreparedTree prepared_;
};

} // namespace

void evict_release_entries(const Options &opt, Progress &progress)
{
	Stage stage(progress, "cache eviction");
	size_t max = opt.cache_max >= 0 ? static_cast<size_t>(opt.cache_max) : cache_max_from_env();
	EvictionReport ev = evict_release_cache(cache_dir(opt), max, {});
	if (ev.removed.empty())
		return; // reported only when it removed something
	std::string list;
	for (const auto &r : ev.removed)
		list += (list.empty() ? "" : ", ") + r;
	stage.done("kept at most " + std::to_string(max) + " per kind, removed " + list);
}

std::vector<std::unique_ptr<Target>> open_release_targets(const Options &opt, Progress &progress)
{
	bool overrides = !opt.config.empty() || !opt.symvers.empty() || !opt.vmlinux.empty() ||
	                 !opt.modules.empty();
	if (opt.kernels.size() > 1 && overrides)
		throw Error("--config, --symvers, --vmlinux and --modules name one kernel's files: "
		            "give them with one --kernel");
	if (opt.kernels.size() > 1 && !opt.output.empty() &&
	    fs::path(opt.output).extension() == ".ko")
		throw Error("with several --kernel, -o is a directory (one module per release in "
		            "DIR/RELEASE/), not " +
		            opt.output);
	for (size_t i = 0; i < opt.kernels.size(); ++i)
		if (std::find(opt.kernels.begin(), opt.kernels.begin() + i, opt.kernels[i]) !=
		    opt.kernels.begin() + i)
			throw Error("--kernel " + opt.kernels[i] + " is given twice");
	FetcherArchive archive(default_fetcher(), cache_dir(opt) + "/debian");
	// Every release is resolved (versions checked, packages fetched) before any is built.
	std::vector<std::unique_ptr<Target>> targets;
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
		Stage stage(progress, "kernel " + release);
		TargetKernel target = resolve_target(q, &archive);
		if (opt.resolve_only) {
			std::fputs(target.describe().c_str(), stdout);
			continue;
		}
		stage.done(target.origin + "; source " + target.src +
		           (target.src_from.empty() ? "" : " (" + target.src_from + ")"));
		targets.push_back(std::make_unique<ReleaseTarget>(std::move(target)));
	}
	return targets;
}

} // namespace kp::build
