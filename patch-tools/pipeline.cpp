#include "pipeline.h"

#include <sys/utsname.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <kp/abi.h>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "cache.h"
#include "cache_evict.h"
#include "diff_stage.h"
#include "error.h"
#include "ksym/symbols.h"
#include "link.h"
#include "module_check.h"
#include "own_target.h"
#include "patch_parse.h"
#include "progress.h"
#include "release_target.h"
#include "run_pre.h"
#include "sign.h"
#include "source_dir.h"
#include "support/files.h"
#include "target.h"

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

bool valid_set_name(const std::string &name)
{
	if (name.empty() || name.size() > KP_SET_NAME_MAX)
		return false;
	for (char c : name)
		if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' &&
		    c != '-')
			return false;
	return true;
}

ModuleOutput module_output(const Options &opt, const std::string &release, size_t targets)
{
	ModuleOutput out;
	out.module = module_name_for(opt.name.empty() ? opt.patches.front() : opt.name);
	if (targets > 1) {
		// -o names a directory (default .): DIR/RELEASE/MODULE.ko.
		std::string dir = opt.output.empty() ? "." : opt.output;
		out.path = (fs::absolute(dir) / release / (out.module + ".ko")).string();
		return out;
	}
	out.path =
	        fs::absolute(opt.output.empty() ? "./" + out.module + ".ko" : opt.output).string();
	if (out.path.size() < 3 || out.path.compare(out.path.size() - 3, 3, ".ko") != 0)
		throw Error("output " + out.path + " must end in .ko");
	if (!opt.output.empty() && opt.name.empty())
		out.module = sanitize_module_name(fs::path(out.path).stem().string());
	return out;
}

int job_count(const Options &opt)
{
	return opt.jobs > 0 ? opt.jobs
	                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string cache_dir(const Options &opt)
{
	return opt.cache_dir.empty() ? default_cache_dir() : fs::absolute(opt.cache_dir).string();
}

namespace {

using Clock = std::chrono::steady_clock;

std::string flat_name(const std::string &object)
{
	std::string s = object;
	for (char &c : s)
		if (c == '/')
			c = '_';
	return s;
}

// One target's work directory: removed after a good run; after a failure only its build
// tree goes (the log and the objects stay for the user); all of it kept with --keep-tmp.
// The patched tree is not read after the diff: it is removed while the link runs.
class WorkDir {
public:
	WorkDir(const std::string &cache_dir, const std::string &module, bool keep)
	    : path_(take(kp::support::make_temp_dir(cache_dir + "/work", module + "-"))),
	      lock_(path_), keep_(keep)
	{}
	~WorkDir()
	{
		if (remover_.joinable())
			remover_.join();
		if (path_.empty() || keep_)
			return;
		(void)kp::support::remove_tree(path_ + "/tree"); // best effort on failure
	}
	WorkDir(const WorkDir &) = delete;
	WorkDir &operator=(const WorkDir &) = delete;
	const std::string &path() const { return path_; }

	void remove_tree_async()
	{
		if (keep_)
			return;
		remover_ = std::jthread(
		        [this] { removal_ = kp::support::remove_tree(path_ + "/tree"); });
	}
	// Returns false with --keep-tmp.
	bool remove()
	{
		if (keep_)
			return false;
		if (remover_.joinable())
			remover_.join();
		take(removal_);
		take(kp::support::remove_tree(path_));
		path_.clear();
		return true;
	}

private:
	std::string path_;
	WorkDirLock lock_; // eviction leaves a directory its kp-build holds alone
	bool keep_;
	std::jthread remover_;
	Expected<void> removal_;
};

// A module built for one target, installed when every target has built.
struct BuiltModule {
	std::string ko, core, output;
};

std::vector<PatchInfo> parse_patches(const Options &opt)
{
	if (opt.patches.empty())
		throw Error("no --patch given");
	std::vector<PatchInfo> patches;
	for (const auto &p : opt.patches) {
		patches.push_back(parse_patch_file(fs::absolute(p).string()));
		for (const auto &f : patches.back().files)
			if (is_assembly_file(f.path))
				throw Error(ErrorKind::unsupported,
				            "patch " + p + " changes the assembly file " + f.path +
				                    ": assembly (.S) changes are not supported");
	}
	return patches;
}

// The targets: the releases of --kernel; else SRC's own build; else, without SRC or SRC
// being an unbuilt tree (no vmlinux, none given), the kernel this machine runs.
std::vector<std::unique_ptr<Target>> open_targets(const Options &opt, Log &log, Progress &progress,
                                                  bool &releases)
{
	releases = true;
	if (!opt.kernels.empty())
		return open_release_targets(opt, progress);
	if (opt.src.empty() || (opt.vmlinux.empty() && !fs::exists(opt.src + "/vmlinux") &&
	                        !fs::exists(opt.src + "/.config"))) {
		struct utsname u;
		if (uname(&u) != 0)
			throw_errno("uname");
		progress.note(opt.src.empty()
		                      ? std::string("no --src or --kernel: building for the "
		                                    "running kernel ") +
		                                u.release + " from its source"
		                      : opt.src +
		                                " is not a built tree: building for the "
		                                "running kernel " +
		                                u.release);
		Options running = opt;
		running.kernels = {u.release};
		return open_release_targets(running, progress);
	}
	releases = false;
	std::vector<std::unique_ptr<Target>> targets;
	targets.push_back(open_own_target(opt, log));
	return targets;
}

std::vector<DiffJob> diff_jobs(const std::vector<PatchObject> &objects,
                               const std::vector<std::string> &dwarf, const std::string &work,
                               const std::vector<std::string> &regenerated)
{
	std::vector<DiffJob> jobs;
	for (const auto &o : objects)
		jobs.push_back({o.object, o.original, o.patched,
		                work + "/diff/" + flat_name(o.object),
		                o.module.empty() ? std::string(KP_OBJ_VMLINUX) : o.module, o.image,
		                dwarf, regenerated});
	return jobs;
}

class TargetRun {
public:
	TargetRun(const Options &opt, Target &target, const ModuleOutput &out, RunReport &report,
	          double &compiler_seconds)
	    : opt_(opt), target_(target), out_(out), compiler_seconds_(compiler_seconds),
	      progress_(log_, opt.verbose), work_(cache_dir(opt), out.module, opt.keep_tmp),
	      ctx_{opt, job_count(opt), cache_dir(opt), work_.path(), log_, progress_}
	{
		log_.open(work_.path() + "/kp-build.log");
		report.log = log_.path();
	}

	std::optional<BuiltModule> build(const std::vector<PatchInfo> &patches)
	{
		setup();
		measured("original build", [&] { return target_.build_original(ctx_); });
		TargetObjects objs;
		measured("objects", [&] {
			objs = target_.objects(patches, ctx_);
			return objs.report;
		});
		BuiltObjects built;
		measured("patched build", [&] {
			built = target_.build(patches, objs.objects, ctx_);
			return built.report;
		});
		measured("run-pre", [&] {
			return StageReport{"the " +
			                   std::to_string(check_against_images(built.objects)) +
			                   " function(s) the patch changes are the kernel's code"};
		});
		if (opt_.check_only)
			return std::nullopt;
		std::vector<std::string> link_objects = diff(built.objects);
		work_.remove_tree_async();
		BuiltModule m = link(patches, link_objects);
		module_check(m);
		if (!opt_.sign_key.empty())
			m = sign(m);
		return m;
	}

	void cleanup()
	{
		Stage stage(progress_, "cleanup");
		if (work_.remove())
			stage.done("work dir removed");
	}

private:
	template <class F>
	void measured(const std::string &name, F stage_body)
	{
		Stage stage(progress_, name);
		StageReport r = stage_body();
		stage.add_compiler_time(r.compiler_seconds);
		compiler_seconds_ += r.compiler_seconds;
		stage.done(r.detail);
	}

	void setup()
	{
		Stage stage(progress_, "setup");
		log_.write("kp-build: target " + target_.release() + ", vmlinux " +
		           target_.vmlinux() + " (build ID " + target_.build_id() + ")\n");
		stage.done("module " + out_.module + ", release " + target_.release() +
		           ", build ID " + target_.build_id().substr(0, 12) + ", work dir " +
		           work_.path());
	}

	std::vector<std::string> diff(const std::vector<PatchObject> &objects)
	{
		Stage stage(progress_, "diff");
		auto vmlinux = take(kp::ksym::SymbolTable::open(target_.vmlinux()));
		LinkTree tree = target_.link_tree(ctx_);
		auto regenerated = objtool_module_sections(
		        take(kp::support::read_text_file(tree.kdir + "/.config")));
		auto results = run_diffs(diff_jobs(objects, target_.entry_type_dwarf(ctx_),
		                                   work_.path(), regenerated),
		                         *vmlinux, opt_.explain, ctx_.jobs, log_);
		DiffSummary s = collect_diffs(results, opt_.explain);
		for (const auto &a : s.anchored)
			progress_.verbose(a);
		stage.done(std::to_string(s.link_objects.size()) + " of " +
		           std::to_string(results.size()) + " object(s) changed, " +
		           std::to_string(s.anchored_symbols) +
		           " non-exported symbol(s) anchored, " +
		           std::to_string(s.anchored_relocations) + " relocation(s) rewritten");
		return s.link_objects;
	}

	BuiltModule link(const std::vector<PatchInfo> &patches,
	                 const std::vector<std::string> &objects)
	{
		Stage stage(progress_, "link");
		double seconds = 0;
		tree_ = target_.link_tree(ctx_);
		core_ = ensure_core_module(kp_source_dir(), tree_.kdir, ctx_.cache_dir, log_,
		                           &seconds, tree_.make_vars);
		LinkRequest req;
		req.template_dir = kp_source_path("kmod/patch");
		req.kdir = tree_.kdir;
		req.out_dir = work_.path() + "/module";
		req.module = out_.module;
		req.objects = objects;
		req.build_id = target_.build_id();
		req.release = target_.release();
		for (const auto &p : patches)
			req.sources.push_back(sanitize_module_name(p.file) +
			                      fs::path(p.file).extension().string() + ":" +
			                      sha256_file(p.file, &log_));
		req.core_symvers = core_.symvers;
		req.make_vars = tree_.make_vars;
		req.replace = opt_.replace;
		req.set = opt_.set;
		req.jobs = ctx_.jobs;
		std::string ko = link_module(req, log_, &seconds);
		stage.add_compiler_time(seconds);
		compiler_seconds_ += seconds;
		stage.done(std::string(core_.built_now ? "kp_core.ko built, " : "") +
		           fs::path(ko).filename().string());
		return {ko, core_.ko, out_.path};
	}

	// What the kernel's loader would check: symbols, build ID, release, vermagic, and the
	// CRCs of the patch module's and kp_core's __versions against the image's.
	void module_check(const BuiltModule &m)
	{
		Stage stage(progress_, "module check");
		ModuleFacts facts = check_module(m.ko, tree_.symvers, core_.symvers,
		                                 target_.build_id(), target_.release());
		size_t versions = check_versions({m.ko, m.core}, target_.vmlinux());
		stage.done(std::to_string(facts.funcs) + " function(s), " +
		           (facts.values ? std::to_string(facts.values) + " transferred value(s), "
		                         : "") +
		           std::to_string(facts.syms) + " symbol record(s), vermagic '" +
		           facts.vermagic + "', " + std::to_string(versions) +
		           " symbol CRC(s) equal to the kernel's");
	}

	// --sign-key: signed copies of the module and of kp_core.ko (the cached core is never
	// changed), installed instead of them.
	BuiltModule sign(const BuiltModule &m)
	{
		Stage stage(progress_, "sign");
		SignRequest req{tree_.kdir, opt_.sign_key, opt_.sign_cert, work_.path() + "/sign"};
		auto signed_files = sign_modules(req, {m.ko, m.core}, log_);
		stage.done("module and kp_core.ko signed (" + module_sig_hash(tree_.kdir) + ", " +
		           fs::path(opt_.sign_cert).filename().string() + ")");
		return {signed_files[0], signed_files[1], m.output};
	}

	const Options &opt_;
	Target &target_;
	ModuleOutput out_;
	double &compiler_seconds_;
	Log log_;
	Progress progress_;
	WorkDir work_;
	RunContext ctx_;
	LinkTree tree_;
	CoreModule core_;
};

void summary(Progress &progress, Clock::time_point start, double compiler_seconds)
{
	double total = std::chrono::duration<double>(Clock::now() - start).count();
	char line[256];
	std::snprintf(line, sizeof line,
	              "total %.2f s, of which in the compiler (make) %.2f s, outside it %.1f%%",
	              total, compiler_seconds,
	              total > 0 ? 100.0 * (total - compiler_seconds) / total : 0.0);
	progress.note(line);
}

} // namespace

void run(const Options &opt, RunReport &report)
{
	auto start = Clock::now();
	Log log; // the run's messages before a target has a work directory: stderr only
	Progress progress(log, opt.verbose);
	if (opt.cache_only) {
		std::printf("%s\n", build_own_cache(opt, log, progress).c_str());
		return;
	}
	std::vector<PatchInfo> patches =
	        opt.resolve_only ? std::vector<PatchInfo>{} : parse_patches(opt);
	bool releases = false;
	std::vector<std::unique_ptr<Target>> targets = open_targets(opt, log, progress, releases);
	if (opt.resolve_only)
		return;
	// Built one after the other (each make uses every CPU); installed when all built.
	double compiler_seconds = 0;
	std::vector<std::unique_ptr<TargetRun>> runs;
	std::vector<BuiltModule> built;
	for (auto &t : targets) {
		ModuleOutput out = module_output(opt, t->release(), targets.size());
		runs.push_back(std::make_unique<TargetRun>(opt, *t, out, report, compiler_seconds));
		if (auto m = runs.back()->build(patches))
			built.push_back(*m);
	}
	std::vector<std::string> wrote;
	for (const auto &m : built) {
		fs::create_directories(fs::path(m.output).parent_path());
		Installed in = install_module(m.ko, m.core, m.output);
		wrote.push_back(m.output + (in.core_copied ? " and " + in.core : ""));
	}
	report.log.clear();
	for (auto &r : runs)
		r->cleanup();
	if (releases)
		evict_release_entries(opt, progress);
	summary(progress, start, compiler_seconds);
	for (const auto &w : wrote)
		progress.note("wrote " + w);
}

} // namespace kp::build
