// kp-build: a source patch for a configured kernel tree -> a loadable kp patch module.
#include <CLI/CLI.hpp>

#include "pipeline.hpp"

int main(int argc, char** argv) {
  kpb::Options opt;
  CLI::App app{"kp-build: build a live patch module from source patches for a kernel tree"};
  app.add_option("--src", opt.src, "configured kernel tree the running kernel was built from")
      ->required();
  app.add_option("--patch", opt.patches, "patch file (unified diff); repeat to apply several in order")
      ->required();
  app.add_option("-o,--output", opt.output, "output module (default ./kp-<NAME>.ko)");
  app.add_option("-n,--name", opt.name, "patch name (default: from the first patch file)");
  app.add_option("--vmlinux", opt.vmlinux, "the running kernel's vmlinux (default <src>/vmlinux)");
  app.add_option("-j,--jobs", opt.jobs, "parallel jobs (default: CPUs)")->check(CLI::Range(1, 1024));
  app.add_option("--cache-dir", opt.cache_dir, "cache of original builds (default ~/.cache/kp-build)");
  app.add_option("--cache-max", opt.cache_max,
                 "tree entries kept in the cache, least recently used removed first; 0: no limit "
                 "(default $KP_BUILD_CACHE_MAX, else 3)")
      ->check(CLI::Range(0, 1000000));
  app.add_flag("--explain", opt.explain, "print diffgen's report for each changed object");
  app.add_flag("--keep-tmp", opt.keep_tmp, "keep the work directory");
  app.add_flag("-v,--verbose", opt.verbose, "more detail");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  }
  return kpb::run_kp_build(opt);
}
