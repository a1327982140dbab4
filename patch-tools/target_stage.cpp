#include "target_stage.hpp"

#include <cstdio>
#include <filesystem>

#include "cache.hpp"
#include "debian_packages.hpp"
#include "error.hpp"
#include "pipeline.hpp"
#include "target_kernel.hpp"

namespace kpb {
namespace fs = std::filesystem;

int run_for_release(const Options &opt)
{
	TargetRequest q;
	q.release = opt.kernel;
	q.src = opt.src.empty() ? std::string{} : fs::absolute(opt.src).string();
	q.config = opt.config;
	q.symvers = opt.symvers;
	q.vmlinux = opt.vmlinux;
	q.modules = opt.modules;
	std::string cache =
	        opt.cache_dir.empty() ? default_cache_dir() : fs::absolute(opt.cache_dir).string();
	FetcherArchive archive(default_fetcher(), cache + "/debian");
	TargetKernel target = resolve_target(q, &archive);
	if (opt.resolve_only) {
		std::fputs(target.describe().c_str(), stdout);
		return kExitBuilt;
	}
	throw Error("kernel " + target.release + " found (" + target.origin +
	            ") but building for --kernel is not implemented yet; --resolve-only shows "
	            "what was found");
}

} // namespace kpb
