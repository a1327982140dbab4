#include "target_stage.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "cache.h"
#include "debian_packages.h"
#include "error.h"
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

// The objects the patches rebuild: one per changed .c file. Header changes need the
// release's dependency sets (issue 13, item 2), not written yet: refused.
std::vector<std::string> patch_objects(const std::vector<PatchInfo> &patches)
{
	std::vector<std::string> objs;
	for (const auto &p : patches)
		for (const auto &f : p.files) {
			if (f.path.size() < 3 || f.path.compare(f.path.size() - 2, 2, ".c") != 0)
				throw Error(
				        "patch " + p.file + " changes " + f.path +
				                ": with --kernel only .c files are supported yet",
				        kExitUnsupported);
			std::string o = f.path.substr(0, f.path.size() - 2) + ".o";
			if (std::find(objs.begin(), objs.end(), o) == objs.end())
				objs.push_back(o);
		}
	return objs;
}

bool same_function(const FunctionCode &a, const FunctionCode &b)
{
	return a.bytes == b.bytes && a.relocated == b.relocated;
}

// Run-pre on the functions the patch changes (bytes or relocated ranges differ between
// the original and the patched object; a finer list comes with diffgen): each must be the
// image's code. Returns how many were checked.
size_t run_pre_stage(const std::map<std::string, std::string> &orig,
                     const std::map<std::string, std::string> &patched, const ImageFunctions &image)
{
	size_t checked = 0;
	for (const auto &[obj, path] : orig) {
		std::map<std::string, FunctionCode> after;
		for (auto &f : object_functions(patched.at(obj)))
			after.emplace(f.name, std::move(f));
		for (const auto &f : object_functions(path)) {
			auto it = after.find(f.name);
			if (it != after.end() && same_function(f, it->second))
				continue;
			RunPreResult r = run_pre_check(f, image);
			if (!r.match)
				throw Error("run-pre: " + f.name + " (" + obj +
				            ") compiled from the source is not the kernel's: " +
				            r.describe());
			++checked;
		}
	}
	return checked;
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

int build_for(const Options &opt, const TargetKernel &target, const std::string &cache,
              const std::string &work, Log &log)
{
	int jobs = opt.jobs > 0
	                   ? opt.jobs
	                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
	std::vector<PatchInfo> patches;
	for (const auto &p : opt.patches)
		patches.push_back(parse_patch_file(fs::absolute(p).string()));
	std::vector<std::string> objs = patch_objects(patches);

	auto t = Clock::now();
	PreparedTree prepared =
	        prepare_tree({opt.src, target.release, target.config, cache, jobs}, &log);
	say(prepared.hit ? "tree preparation: cache hit (" + prepared.dir + ")"
	                 : "tree preparation: olddefconfig + modules_prepare in " + prepared.dir,
	    since(t));

	t = Clock::now();
	ObjectPairs pairs = compile_before_after(prepared, patches, objs, work, jobs, &log);
	say("objects before and after the patch: " + std::to_string(objs.size()) + " compiled",
	    since(t));
	std::map<std::string, std::string> orig(pairs.orig.begin(), pairs.orig.end());
	std::map<std::string, std::string> patched(pairs.patched.begin(), pairs.patched.end());

	t = Clock::now();
	size_t checked = run_pre_stage(orig, patched, ImageFunctions(target.vmlinux));
	say("run-pre: the " + std::to_string(checked) +
	            " function(s) the patch changes are the kernel's code (" + target.vmlinux + ")",
	    since(t));
	if (opt.check_only)
		return kExitBuilt;
	throw Error("kernel " + target.release +
	            ": writing the patch module for --kernel is not implemented yet (issue 13); "
	            "--check-only stops after run-pre");
}

} // namespace

int run_for_release(const Options &opt)
{
	TargetRequest q;
	q.release = opt.kernel;
	q.src = opt.src.empty() ? std::string{} : fs::absolute(opt.src).string();
	q.config = opt.config;
	q.symvers = opt.symvers;
	q.vmlinux = opt.vmlinux;
	q.modules = opt.modules;
	q.need_vmlinux = !opt.resolve_only;
	std::string cache =
	        opt.cache_dir.empty() ? default_cache_dir() : fs::absolute(opt.cache_dir).string();
	FetcherArchive archive(default_fetcher(), cache + "/debian");
	auto t = Clock::now();
	TargetKernel target = resolve_target(q, &archive);
	if (opt.resolve_only) {
		std::fputs(target.describe().c_str(), stdout);
		return kExitBuilt;
	}
	say("kernel " + target.release + ": " + target.origin, since(t));
	std::string work = make_work_dir(cache, target.release);
	Log log(work + "/kp-build.log");
	try {
		int rc = build_for(opt, target, cache, work, log);
		if (!opt.keep_tmp)
			remove_tree(work);
		return rc;
	} catch (...) {
		std::fprintf(stderr, "kp-build: log: %s/kp-build.log\n", work.c_str());
		throw;
	}
}

} // namespace kp::build
