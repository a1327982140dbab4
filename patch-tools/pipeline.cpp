#include "pipeline.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <map>
#include <set>
#include <thread>

#include "build.hpp"
#include "cache.hpp"
#include "cache_evict.hpp"
#include "diff_stage.hpp"
#include "error.hpp"
#include "kbuild_deps.hpp"
#include "kernel_info.hpp"
#include "link.hpp"
#include "module_check.hpp"
#include "patch_apply.hpp"
#include "patch_parse.hpp"
#include "progress.hpp"
#include "resolve.hpp"
#include "target_stage.hpp"
#include "tree_copy.hpp"
#include <kp/abi.h>

namespace kpb {
namespace fs = std::filesystem;

std::string module_name_for(const std::string& name) {
  std::string n = sanitize_module_name(name);
  if (n.rfind("kp-", 0) != 0 && n.rfind("kp_", 0) != 0) n = "kp-" + n;
  if (n.size() > 55) n.resize(55);  // MODULE_NAME_LEN - 1
  return n;
}

namespace {

std::string flat_name(const std::string& object) {
  std::string s = object;
  for (char& c : s)
    if (c == '/') c = '_';
  return s;
}

std::string indent(const std::string& text) {
  std::string out = "    ";
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += "    ";
  }
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

struct WorkDir {
  std::string path;
  bool keep = false;
  bool success = false;
  ~WorkDir() {
    if (path.empty() || keep) return;
    try {
      if (success) {
        remove_tree(path);
      } else {
        remove_tree(path + "/tree");  // keep the log of a failed build
      }
    } catch (...) {
    }
  }
};

int run(const Options& opt, WorkDir& work, Log& log) {
  if (!opt.kernel.empty()) return run_for_release(opt);
  auto t0 = std::chrono::steady_clock::now();
  Progress progress(log, opt.verbose);
  int jobs = opt.jobs > 0 ? opt.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double compiler_seconds = 0;

  // ---- setup
  Stage setup(progress, "setup");
  if (opt.patches.empty()) throw Error("no --patch given");
  std::vector<PatchInfo> patches;
  for (const auto& p : opt.patches) {
    auto abs = fs::absolute(p).string();
    patches.push_back(parse_patch_file(abs));
    for (const auto& f : patches.back().files)
      if (is_assembly_file(f.path))
        throw Error("patch " + p + " changes the assembly file " + f.path +
                        ": assembly (.S) changes are not supported",
                    kExitUnsupported);
  }
  KernelTree tree = inspect_tree(opt.src, opt.vmlinux, &log);
  check_compiler(tree);
  std::string module = module_name_for(opt.name.empty() ? opt.patches.front() : opt.name);
  std::string output = fs::absolute(opt.output.empty() ? "./" + module + ".ko" : opt.output).string();
  if (output.size() < 3 || output.compare(output.size() - 3, 3, ".ko") != 0)
    throw Error("output " + output + " must end in .ko");
  // Kbuild names the module after the file; the file name must match the module name.
  std::string out_module = fs::path(output).stem().string();
  if (!opt.output.empty() && opt.name.empty()) module = sanitize_module_name(out_module);
  std::string cache_dir = opt.cache_dir.empty() ? default_cache_dir() : fs::absolute(opt.cache_dir).string();
  CacheKey key = make_cache_key(tree);
  CacheEntry cache(cache_dir, key);
  {
    char tmpl[64];
    std::snprintf(tmpl, sizeof tmpl, "/%s-XXXXXX", module.c_str());
    std::string t = cache.work_root() + tmpl;
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw_errno("cannot create a work directory in " + cache.work_root());
    work.path = buf.data();
  }
  log.open(work.path + "/kp-build.log");
  log.write("kp-build: tree " + tree.src + ", vmlinux " + tree.vmlinux + " (build ID " + tree.build_id +
            ", release " + tree.release + ")\n");
  setup.done("module " + module + ", release " + tree.release + ", build ID " + tree.build_id.substr(0, 12) +
             ", work dir " + work.path);

  // ---- original build
  Stage orig(progress, "original build");
  double orig_compile = 0;
  bool hit = cache.ensure_original_build(tree, jobs, progress, &orig_compile);
  orig.add_compiler_time(orig_compile);
  compiler_seconds += orig_compile;
  orig.done(hit ? "cache hit (" + cache.tree() + ")" : "built into the cache (" + cache.tree() + ")");

  // ---- cache eviction (only reported when it removed something)
  {
    auto evict_start = std::chrono::steady_clock::now();
    size_t max = opt.cache_max >= 0 ? static_cast<size_t>(opt.cache_max) : cache_max_from_env();
    EvictionReport ev = evict_cache_entries(cache_dir, max, cache.name());
    for (const auto& b : ev.busy) progress.verbose("cache entry " + b + " is in use: not removed");
    if (!ev.removed.empty()) {
      std::string list;
      for (const auto& r : ev.removed) list += " " + r;
      progress.stage_done("cache eviction",
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - evict_start).count(),
                          "kept at most " + std::to_string(max) + " tree(s), removed" + list);
    }
  }

  // ---- patched build
  Stage patched(progress, "patched build");
  std::set<std::string> changed, created;
  for (const auto& p : patches)
    for (const auto& f : p.files) (f.created ? created : changed).insert(f.path);
  Membership membership = read_membership(cache.tree(), &log);
  AffectedObjects affected =
      find_affected_objects_cached(cache.tree(), changed, membership, cache.dir() + "/deps-index-v2");
  for (const auto& f : changed)
    if (!affected.by_file.count(f))
      throw Error("the patch changes " + f + ", which is not built into vmlinux or any module of this "
                  "configuration (no object's Kbuild dependency record names it)",
                  kExitUnsupported);
  for (const auto& [f, objs] : affected.by_file) {
    std::string list;
    for (const auto& o : objs) list += " " + o;
    progress.verbose(f + " ->" + list);
  }
  std::string wtree = work.path + "/tree";
  std::set<std::string> touched = changed;
  touched.insert(created.begin(), created.end());
  auto prepare_tree = [&](bool sparse) {
    auto copy_start = std::chrono::steady_clock::now();
    CopyStats ws = sparse ? make_sparse_work_tree(cache.tree(), wtree, affected.objects, touched)
                          : make_work_tree(cache.tree(), wtree);
    progress.verbose(std::string(sparse ? "sparse" : "full") + " patched copy: " + std::to_string(ws.linked) +
                     " sources linked, " + std::to_string(ws.linked_dirs) + " source directories linked, " +
                     std::to_string(ws.copied) + " build files copied in " +
                     std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - copy_start).count()) +
                     " s");
    for (const auto& p : patches) apply_patch(p, wtree, &log);
  };
  prepare_tree(true);
  ObjectBuild ob;
  double make_seconds = 0;
  try {
    ob = build_objects(wtree, affected.objects, jobs, log, &make_seconds);
  } catch (const Error& e) {
    // A sparse copy lacks the sources of other directories; when the build needs one the
    // records did not name, build again in a full copy before calling the patch broken.
    progress.note("the build failed in the sparse copy; retrying in a full copy");
    log.write("sparse build failure: " + std::string(e.what()) + "\n");
    remove_tree(wtree);
    prepare_tree(false);
    ob = build_objects(wtree, affected.objects, jobs, log, &make_seconds);
  }
  patched.add_compiler_time(make_seconds);
  compiler_seconds += make_seconds;
  patched.done(std::to_string(changed.size() + created.size()) + " file(s) changed, " +
               std::to_string(affected.objects.size()) + " object(s) rebuilt");

  // ---- diff
  Stage diff(progress, "diff");
  std::string diffgen = find_diffgen(opt.self_exe);
  std::vector<DiffJob> djobs;
  for (const auto& o : affected.objects) {
    DiffJob j;
    j.object = o;
    j.original = cache.tree() + "/" + o;
    j.patched = wtree + "/" + o;
    j.output = work.path + "/diff/" + flat_name(o);
    auto mod = membership.module_of.find(o);
    if (mod != membership.module_of.end()) {
      j.target = mod->second;
      j.symbols = tree.src + "/" + membership.module_ko.at(mod->second);
      if (!fs::exists(j.symbols))
        throw Error(o + " belongs to module " + mod->second + " but " + j.symbols + " does not exist");
    } else {
      j.target = KP_OBJ_VMLINUX;
      j.symbols = tree.vmlinux;
    }
    djobs.push_back(j);
  }
  auto results = run_diffs(djobs, diffgen, opt.explain, jobs, log);
  std::vector<const DiffResult*> changed_objs;
  std::string unsupported, errors;
  for (const auto& r : results) {
    if (opt.explain && !r.report.empty())
      std::fprintf(stderr, "kp-build: diffgen report for %s:\n%s", r.job.object.c_str(), indent(r.report).c_str());
    switch (r.status) {
      case 0: changed_objs.push_back(&r); break;
      case 3: break;
      case 2: unsupported += "\n  " + r.job.object + ":\n" + indent(r.report); break;
      case 127: errors += "\n  cannot run diffgen (" + diffgen + "): " + r.report; break;
      default: errors += "\n  " + r.job.object + " (diffgen exit " + std::to_string(r.status) + "):\n" + indent(r.report);
    }
  }
  if (!unsupported.empty()) throw Error("unsupported change:" + unsupported, kExitUnsupported);
  if (!errors.empty()) throw Error("diffgen failed:" + errors, kExitError);
  if (changed_objs.empty())
    throw Error("no functional change: every rebuilt object (" + std::to_string(results.size()) +
                ") is identical in function to the original", kExitNoChange);
  diff.done(std::to_string(changed_objs.size()) + " of " + std::to_string(results.size()) +
            " object(s) changed");

  // The patched tree is not read after the diff: remove it while resolve and link run (the
  // template link keeps one CPU busy in make); the cleanup stage waits for it.
  std::exception_ptr tree_removal_error;
  std::jthread tree_remover;
  if (!opt.keep_tmp)
    tree_remover = std::jthread([&wtree, &tree_removal_error] {
      try {
        remove_tree(wtree);
      } catch (...) {
        tree_removal_error = std::current_exception();
      }
    });

  // ---- resolve
  Stage resolve(progress, "resolve");
  std::unique_ptr<VmlinuxSymbols> vsyms;
  std::vector<std::string> link_objects;
  size_t nsyms = 0, nrelocs = 0;
  for (const DiffResult* r : changed_objs) {
    std::string out = work.path + "/resolved/" + flat_name(r->job.object);
    if (r->job.target == KP_OBJ_VMLINUX) {
      if (!vsyms) vsyms = std::make_unique<VmlinuxSymbols>(VmlinuxSymbols::load(tree.vmlinux));
      ResolveReport rep = resolve_object(r->job.output, out, *vsyms);
      for (const auto& s : rep.symbols) {
        char line[512];
        std::snprintf(line, sizeof line, "%s: %s,%llu at 0x%llx = %s%+lld (%zu relocations)",
                      r->job.object.c_str(), s.name.c_str(), static_cast<unsigned long long>(s.sympos),
                      static_cast<unsigned long long>(s.addr), s.anchor.c_str(),
                      static_cast<long long>(s.delta), s.relocations);
        progress.verbose(line);
      }
      nsyms += rep.symbols.size();
      nrelocs += rep.relocations;
    } else {
      fs::create_directories(fs::path(out).parent_path());
      struct stat st;
      if (stat(r->job.output.c_str(), &st) != 0) throw_errno("stat " + r->job.output);
      copy_file_preserving(r->job.output, out, st);
    }
    link_objects.push_back(out);
  }
  resolve.done(std::to_string(nsyms) + " non-exported symbol(s) anchored, " + std::to_string(nrelocs) +
               " relocation(s) rewritten");

  // ---- link
  Stage link(progress, "link");
  std::string src_dir = kp_source_dir();
  double link_make = 0;
  CoreModule core = ensure_core_module(src_dir, tree.src, cache_dir, log, &link_make);
  LinkRequest req;
  req.template_dir = src_dir + "/kmod/patch";
  req.kdir = tree.src;
  req.out_dir = work.path + "/module";
  req.module = module;
  req.objects = link_objects;
  req.build_id = tree.build_id;
  req.release = tree.release;
  for (const auto& p : patches) {
    std::string base = sanitize_module_name(p.file) + fs::path(p.file).extension().string();
    req.sources.push_back(base + ":" + sha256_file(p.file, &log));
  }
  req.core_symvers = core.symvers;
  req.jobs = jobs;
  std::string ko = link_module(req, log, &link_make);
  link.add_compiler_time(link_make);
  compiler_seconds += link_make;
  link.done(std::string(core.built_now ? "kp_core.ko built, " : "") + fs::path(ko).filename().string());

  // ---- module check
  Stage check(progress, "module check");
  ModuleFacts facts = check_module(ko, tree.src + "/Module.symvers", core.symvers, tree.build_id, tree.release);
  fs::create_directories(fs::path(output).parent_path());
  {
    std::string tmp = output + ".kp-tmp";
    fs::remove(tmp);
    struct stat st;
    if (stat(ko.c_str(), &st) != 0) throw_errno("stat " + ko);
    copy_file_preserving(ko, tmp, st);
    fs::rename(tmp, output);
  }
  // The core the module was linked against goes beside it; a different one there
  // (another kp version: other ABI or symbols) is replaced, atomically.
  std::string core_out = (fs::path(output).parent_path() / "kp_core.ko").string();
  bool core_copied = false;
  if (!fs::exists(core_out) || read_text_file(core_out) != read_text_file(core.ko)) {
    struct stat st;
    if (stat(core.ko.c_str(), &st) != 0) throw_errno("stat " + core.ko);
    std::string tmp = core_out + ".kp-tmp";
    fs::remove(tmp);
    copy_file_preserving(core.ko, tmp, st);
    fs::rename(tmp, core_out);
    core_copied = true;
  }
  check.done(std::to_string(facts.funcs) + " function(s), " + std::to_string(facts.syms) + " symbol record(s), vermagic '" +
             facts.vermagic + "'");

  if (!opt.keep_tmp) {
    Stage cleanup(progress, "cleanup");
    tree_remover.join();
    if (tree_removal_error) std::rethrow_exception(tree_removal_error);
    remove_tree(work.path);  // part of the run's time
    work.path.clear();
    cleanup.done("work dir removed");
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char summary[256];
  std::snprintf(summary, sizeof summary, "total %.2f s, of which in the compiler (make) %.2f s, outside it %.1f%%",
                total, compiler_seconds, total > 0 ? 100.0 * (total - compiler_seconds) / total : 0.0);
  progress.note(summary);
  progress.note("wrote " + output + (core_copied ? " and " + core_out : ""));
  work.success = true;
  return kExitBuilt;
}

}  // namespace

int run_kp_build(const Options& opt) {
  WorkDir work;
  work.keep = opt.keep_tmp;
  Log log;
  try {
    return run(opt, work, log);
  } catch (const Error& e) {
    const char* kind = e.code() == kExitUnsupported ? "refused" : e.code() == kExitNoChange ? "nothing to do" : "error";
    std::fprintf(stderr, "kp-build: %s: %s\n", kind, e.what());
    if (!log.path().empty()) std::fprintf(stderr, "kp-build: log: %s\n", log.path().c_str());
    return e.code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kp-build: error: %s\n", e.what());
    if (!log.path().empty()) std::fprintf(stderr, "kp-build: log: %s\n", log.path().c_str());
    return kExitError;
  }
}

}  // namespace kpb
