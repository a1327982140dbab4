#include "link.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "build.h"
#include "cache.h"
#include "error.h"
#include "kernel_info.h"
#include "process.h"
#include "progress.h"
#include "support/atomic_file.h"
#include "support/files.h"
#include "tree_copy.h"

namespace kp::build {
namespace fs = std::filesystem;

std::string sha256_file(const std::string &path, Log *log)
{
	auto r = run_process({"sha256sum", "--", path}, {}, log);
	if (r.status != 0 || r.output.size() < 64)
		throw Error("cannot checksum " + path);
	return r.output.substr(0, 64);
}

std::string sanitize_module_name(const std::string &text)
{
	std::string b = fs::path(text).filename().string();
	for (const char *ext : {".patch", ".diff", ".txt"}) {
		std::string e(ext);
		if (b.size() > e.size() && b.compare(b.size() - e.size(), e.size(), e) == 0)
			b.resize(b.size() - e.size());
	}
	std::string out;
	for (char c : b)
		out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c
		                                                                             : '_';
	while (!out.empty() && (out.front() == '-' || out.front() == '_'))
		out.erase(out.begin());
	if (out.empty())
		out = "patch";
	return out;
}

std::string link_module(const LinkRequest &req, Log &log, double *make_seconds)
{
	std::string objs, sources;
	for (const auto &o : req.objects)
		objs += (objs.empty() ? "" : " ") + o;
	for (const auto &s : req.sources)
		sources += (sources.empty() ? "" : " ") + s;
	std::vector<std::string> cmd = {"make",
	                                "-C",
	                                req.template_dir,
	                                "-j" + std::to_string(req.jobs),
	                                "NAME=" + req.module,
	                                "OUT=" + req.out_dir,
	                                "OBJS=" + objs,
	                                "BUILD_ID=" + req.build_id,
	                                "RELEASE=" + req.release,
	                                "SOURCES=" + sources,
	                                "KDIR=" + req.kdir,
	                                "CORE_SYMVERS=" + req.core_symvers};
	if (req.replace)
		cmd.push_back("REPLACE=1");
	if (!req.set.empty())
		cmd.push_back("SET=" + req.set);
	cmd.insert(cmd.end(), req.make_vars.begin(), req.make_vars.end());
	auto r = run_process(cmd, {}, &log);
	if (make_seconds)
		*make_seconds += r.seconds;
	std::string ko = req.out_dir + "/" + req.module + ".ko";
	if (r.status != 0 || !fs::exists(ko)) {
		std::string errs = compiler_errors(r.output);
		// modpost reports unresolved symbols as "ERROR: modpost: "x" [m.ko] undefined!"
		for (size_t p = r.output.find("ERROR: modpost"); p != std::string::npos;
		     p = r.output.find("ERROR: modpost", p + 1))
			errs += "  " + r.output.substr(p, r.output.find('\n', p) - p) + "\n";
		throw Error("linking the patch module failed (full output in " + log.path() +
		            "):\n" + errs);
	}
	return ko;
}

CoreModule ensure_core_module(const std::string &src, const std::string &kdir,
                              const std::string &cache_dir, Log &log, double *make_seconds,
                              const std::vector<std::string> &make_vars)
{
	// The core's sources: kmod/core (its Kbuild includes ../../include and ../patch).
	std::vector<fs::path> files;
	for (const char *d : {"kmod/core", "kmod/patch", "include/kp"}) {
		fs::path dir = fs::path(src) / d;
		if (!fs::is_directory(dir))
			throw Error("kp sources not found: " + dir.string() +
			            " (set KP_SOURCE_DIR)");
		for (const auto &e : fs::directory_iterator(dir)) {
			std::string n = e.path().filename().string();
			// Not modpost's kp_core.mod.c, which an in-tree `make -C kmod` leaves.
			bool wanted =
			        std::string(d) == "kmod/core"
			                ? (n == "Kbuild" || e.path().extension() == ".h" ||
			                   (e.path().extension() == ".c" && !n.ends_with(".mod.c")))
			                : e.path().extension() == ".h";
			if (e.is_regular_file() && wanted)
				files.push_back(e.path());
		}
	}
	std::sort(files.begin(), files.end());
	std::string sig = kdir + "\n";
	for (const auto &v : make_vars)
		sig += v + "\n";
	// The CRCs modpost writes into the core's __versions come from the tree's Module.symvers.
	if (fs::exists(kdir + "/Module.symvers"))
		sig += take(kp::support::read_text_file(kdir + "/Module.symvers"));
	for (const auto &f : files)
		sig += fs::relative(f, src).string() + "\n" +
		       take(kp::support::read_text_file(f.string()));
	char hex[17];
	std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(sig)));
	std::string root = cache_dir + "/core-" + hex;
	CoreModule core{root + "/kmod/core/kp_core.ko", root + "/kmod/core/Module.symvers", false};
	if (fs::exists(core.ko) && fs::exists(core.symvers)) {
		// Its mtime is its last use: cache eviction keeps the cores in use.
		if (utimensat(AT_FDCWD, root.c_str(), nullptr, 0) != 0)
			throw_errno("cannot touch " + root);
		return core;
	}
	std::string tmp = root + ".tmp." + std::to_string(getpid());
	take(kp::support::remove_tree(tmp));
	for (const auto &f : files) {
		fs::path dst = fs::path(tmp) / fs::relative(f, src);
		fs::create_directories(dst.parent_path());
		struct stat st;
		if (stat(f.c_str(), &st) != 0)
			throw_errno("stat " + f.string());
		copy_file_preserving(f.string(), dst.string(), st);
	}
	std::vector<std::string> cmd{"make", "-C", kdir, "M=" + tmp + "/kmod/core", "modules"};
	cmd.insert(cmd.end(), make_vars.begin(), make_vars.end());
	auto r = run_process(cmd, {}, &log);
	if (make_seconds)
		*make_seconds += r.seconds;
	if (r.status != 0) {
		take(kp::support::remove_tree(tmp));
		throw Error("building kp_core.ko from " + src + "/kmod/core failed (log: " +
		            log.path() + "):\n" + compiler_errors(r.output));
	}
	std::error_code ec;
	fs::rename(tmp, root, ec); // fails when another kp-build finished first: use its build
	if (ec) {
		take(kp::support::remove_tree(tmp));
		if (!fs::exists(core.ko))
			throw Error("cannot install kp_core.ko in " + root + ": " + ec.message());
	}
	core.built_now = true;
	return core;
}

Installed install_module(const std::string &ko, const std::string &core_ko,
                         const std::string &output)
{
	auto install = [](const std::string &from, const std::string &to) {
		take(kp::support::install_file(from, to));
	};
	install(ko, output);
	Installed out;
	out.core = (fs::path(output).parent_path() / "kp_core.ko").string();
	if (!fs::exists(out.core) || take(kp::support::read_text_file(out.core)) !=
	                                     take(kp::support::read_text_file(core_ko))) {
		install(core_ko, out.core);
		out.core_copied = true;
	}
	return out;
}

} // namespace kp::build
