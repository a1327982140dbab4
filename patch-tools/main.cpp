// kp-build: a source patch for a configured kernel tree -> a loadable kp patch module.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <kp/abi.h>

#include "cache_evict.h"
#include "error.h"
#include "options.h"
#include "pipeline.h"

namespace {

// The one place kp-build's errors become exit codes (README, docs/architecture.md).
enum ExitCode : int {
	kExitBuilt = 0,
	kExitError = 1,
	kExitUnsupported = 2,
	kExitNoChange = 3,
};

int exit_code(kp::ErrorKind kind)
{
	switch (kind) {
	case kp::ErrorKind::unsupported: return kExitUnsupported;
	case kp::ErrorKind::no_change: return kExitNoChange;
	default: return kExitError;
	}
}

const char *label(kp::ErrorKind kind)
{
	switch (kind) {
	case kp::ErrorKind::unsupported: return "refused";
	case kp::ErrorKind::no_change: return "nothing to do";
	default: return "error";
	}
}

int run(const kp::build::Options &opt)
{
	kp::build::RunReport report;
	int code = kExitBuilt;
	try {
		kp::build::run(opt, report);
		return kExitBuilt;
	} catch (const kp::Failure &e) {
		std::fprintf(stderr, "kp-build: %s: %s\n", label(e.kind()), e.what());
		code = exit_code(e.kind());
	} catch (const std::exception &e) {
		std::fprintf(stderr, "kp-build: error: %s\n", e.what());
		code = kExitError;
	}
	if (!report.log.empty())
		std::fprintf(stderr,
		             "kp-build: log: %s (the work directories of the last %zu failed runs "
		             "are kept)\n",
		             report.log.c_str(), kp::build::kWorkDirsKept);
	return code;
}

} // namespace

int main(int argc, char **argv)
{
	kp::build::Options opt;
	CLI::App app{"kp-build: build a live patch module from source patches for a kernel tree"};
	app.add_option("--src", opt.src,
	               "kernel tree the target was built from: a configured, built tree (its own "
	               "build is the target), or with --kernel the unbuilt source (default: "
	               "Debian's source of the release, fetched)");
	auto *patch = app.add_option("--patch", opt.patches,
	                             "patch file (unified diff); repeat to apply several in order");
	app.add_option("--kernel", opt.kernels,
	               "target release (uname -r) when it is not SRC's own build: its files are "
	               "taken from "
	               "the overrides, then the installed files, then Debian's packages (cached); "
	               "repeat for "
	               "one module per release (-o is then a directory: DIR/RELEASE/)");
	app.add_option("--config", opt.config, "with --kernel: the release's .config");
	app.add_option("--symvers", opt.symvers, "with --kernel: the release's Module.symvers");
	app.add_option("--modules", opt.modules,
	               "with --kernel: the release's /lib/modules/RELEASE");
	auto *resolve =
	        app.add_flag("--resolve-only", opt.resolve_only,
	                     "with --kernel: print what was found for the release and stop");
	app.add_flag(
	        "--check-only", opt.check_only,
	        "with --kernel: prepare the tree, compile the patch's objects before and after, "
	        "check them against the kernel's image (run-pre), write no module");
	auto *cache_only = app.add_flag(
	        "--cache-only", opt.cache_only,
	        "make SRC's entry in the cache (a copy of the built tree, once per tree), print "
	        "the cache tree's path and stop; no --patch needed");
	auto *prebuild = app.add_option(
	        "--prebuild", opt.prebuild,
	        "with --cache-only: also compile the original objects under PATH (a directory or "
	        "an object of SRC's build) into the cache, for the patches to come; repeatable");
	prebuild->type_name("PATH");
	app.add_option("-o,--output", opt.output, "output module (default ./kp-<NAME>.ko)");
	app.add_option("-n,--name", opt.name, "patch name (default: from the first patch file)");
	app.add_option("--vmlinux", opt.vmlinux,
	               "the running kernel's vmlinux (default <src>/vmlinux); with --kernel, a "
	               "vmlinux or System.map");
	app.add_option("-j,--jobs", opt.jobs, "parallel jobs (default: CPUs)")
	        ->check(CLI::Range(1, 1024));
	app.add_option("--cache-dir", opt.cache_dir,
	               "cache of original builds (default ~/.cache/kp-build)");
	app.add_option(
	           "--cache-max", opt.cache_max,
	           "tree entries kept in the cache, least recently used removed first; 0: no limit "
	           "(default $KP_BUILD_CACHE_MAX, else 3)")
	        ->check(CLI::Range(0, 1000000));
	auto *sign_key = app.add_option("--sign-key", opt.sign_key,
	                                "sign the patch module and kp_core.ko with this private "
	                                "key (PEM, or a PKCS#11 URI), by the kernel's "
	                                "scripts/sign-file");
	auto *sign_cert = app.add_option("--sign-cert", opt.sign_cert,
	                                 "the X.509 certificate of --sign-key (the one the "
	                                 "machines trust: built in, or enrolled with mokutil)");
	sign_key->needs(sign_cert);
	sign_cert->needs(sign_key);
	app.add_flag("--replace", opt.replace,
	             "the patch replaces every earlier kp patch of its set when it goes live, in "
	             "one transition: the functions they changed and it does not go back to the "
	             "original code (a cumulative patch)");
	app.add_option("--set", opt.set,
	               "the patch's replace set (default: the default set); a --replace patch "
	               "replaces the patches of its own set only")
	        ->check([](const std::string &s) {
		        return kp::build::valid_set_name(s)
		                       ? std::string()
		                       : "a set name is 1 to " + std::to_string(KP_SET_NAME_MAX) +
		                                 " characters of A-Z a-z 0-9 _ . -";
	        });
	app.add_flag("--explain", opt.explain, "print diffgen's report for each changed object");
	app.add_flag("--keep-tmp", opt.keep_tmp, "keep the work directory");
	app.add_flag("-v,--verbose", opt.verbose, "more detail");
	try {
		app.parse(argc, argv);
		if (!resolve->count() && !cache_only->count() && !patch->count())
			throw CLI::RequiredError("--patch");
		if (resolve->count() && opt.kernels.empty())
			throw CLI::ValidationError("--resolve-only needs --kernel");
		if (cache_only->count() && !opt.kernels.empty())
			throw CLI::ValidationError(
			        "--cache-only is for SRC's own build, not --kernel");
		if (cache_only->count() && opt.src.empty())
			throw CLI::RequiredError("--src");
		if (prebuild->count() && !cache_only->count())
			throw CLI::ValidationError("--prebuild goes with --cache-only");
	} catch (const CLI::ParseError &e) {
		int rc = app.exit(e);
		return rc == 0 ? 0 : 1;
	}
	return run(opt);
}
