#include "kpatch_headers.h"

#include <filesystem>
#include <utility>

#include "error.h"

namespace kp::build {

namespace fs = std::filesystem;

namespace {
const char *const kNames[] = {"kpatch-macros.h", "kpatch-syscall.h", "kp-abi.h", "kp-value.h"};
} // namespace

std::set<std::string> kpatch_header_paths(const std::set<std::string> &files)
{
	std::set<std::string> out;
	for (const auto &f : files)
		if (f.ends_with(".c"))
			for (const char *name : kNames)
				out.insert((fs::path(f).parent_path() / name).string());
	return out;
}

void install_kpatch_headers(const std::string &kp_src, const std::string &tree,
                            const std::set<std::string> &files)
{
	const std::pair<fs::path, const char *> headers[] = {
	        {fs::path(kp_src) / "kmod/patch/kpatch/kpatch-macros.h", "kpatch-macros.h"},
	        {fs::path(kp_src) / "kmod/patch/kpatch/kpatch-syscall.h", "kpatch-syscall.h"},
	        {fs::path(kp_src) / "include/kp/abi.h", "kp-abi.h"},
	        {fs::path(kp_src) / "kmod/patch/kp-value.h", "kp-value.h"}};
	std::set<fs::path> dirs;
	for (const auto &f : files)
		if (f.ends_with(".c"))
			dirs.insert((fs::path(tree) / f).parent_path());
	for (const auto &dir : dirs) {
		std::error_code lec;
		if (fs::is_symlink(dir, lec))
			throw Error(
			        "internal: " + dir.string() +
			        " is a link into the cache; the patched copy must keep it real");
		for (const auto &[from, name] : headers) {
			fs::path to = dir / name;
			std::error_code ec;
			if (fs::exists(to, ec))
				continue; // the kernel's own file of that name wins
			fs::copy_file(from, to, ec);
			if (ec)
				throw Error("cannot put " + from.string() + " at " + to.string() +
				            ": " + ec.message());
		}
	}
}

} // namespace kp::build
