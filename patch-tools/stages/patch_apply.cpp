#include "patch_apply.h"

#include <sys/stat.h>

#include <regex>
#include <sstream>

#include "error.h"
#include "process.h"
#include "tree_copy.h"

namespace kp::build {

std::string describe_patch_failure(const PatchInfo &patch, const std::string &out)
{
	std::istringstream in(out);
	std::string line, current;
	std::vector<std::string> problems;
	static const std::regex hunk_re(R"(Hunk #(\d+) FAILED at (\d+))");
	while (std::getline(in, line)) {
		for (const char *prefix : {"checking file ", "patching file "})
			if (line.rfind(prefix, 0) == 0)
				current = line.substr(std::string(prefix).size());
		std::smatch m;
		if (std::regex_search(line, m, hunk_re)) {
			size_t n = std::stoul(m[1].str());
			std::string header;
			for (const auto &f : patch.files)
				if (f.path == current && n >= 1 && n <= f.hunks.size())
					header = f.hunks[n - 1];
			problems.push_back(current + ": hunk #" + m[1].str() +
			                   (header.empty() ? "" : " (" + header + ")") +
			                   " FAILED at line " + m[2].str());
		} else if (line.find("can't find file to patch") != std::string::npos ||
		           line.find("No file to patch") != std::string::npos) {
			problems.push_back("a file to patch does not exist in the tree");
		} else if (line.find("Reversed (or previously applied) patch detected") !=
		           std::string::npos) {
			problems.push_back((current.empty() ? std::string("a file") : current) +
			                   ": the change is already applied (reversed or "
			                   "previously applied patch)");
		} else if (line.find("already exists") != std::string::npos) {
			problems.push_back(line);
		} else if (line.find("malformed patch") != std::string::npos) {
			problems.push_back("malformed patch: " + line);
		}
	}
	std::string msg = "patch " + patch.file + " does not apply";
	if (problems.empty())
		return msg + ":\n" + out;
	for (const auto &p : problems)
		msg += "\n  " + p;
	return msg;
}

void apply_patch(const PatchInfo &patch, const std::string &tree, Log *log)
{
	std::vector<std::string> base = {"patch",
	                                 "-p" + std::to_string(patch.strip),
	                                 "--batch",
	                                 "--forward",
	                                 "--no-backup-if-mismatch",
	                                 "--reject-file=-",
	                                 "-d",
	                                 tree,
	                                 "-i",
	                                 patch.file};
	// Check every hunk first, so a failing patch changes nothing.
	auto dry = base;
	dry.push_back("--dry-run");
	auto r = run_process(dry, {}, log);
	if (r.status != 0)
		throw Error(describe_patch_failure(patch, r.output));
	for (const auto &f : patch.files) {
		// Nothing the patch writes may lie below a directory linked to the cache's.
		for (size_t p = f.path.find('/'); p != std::string::npos;
		     p = f.path.find('/', p + 1)) {
			struct stat st;
			std::string dir = tree + "/" + f.path.substr(0, p);
			if (lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
				throw Error(ErrorKind::internal,
				            "internal error: " + f.path + " lies in " + dir +
				                    ", a link to the cache's sources; "
				                    "the patch was not applied");
		}
		break_hard_link(tree + "/" + f.path);
	}
	r = run_process(base, {}, log);
	if (r.status != 0)
		throw Error(describe_patch_failure(patch, r.output));
}

} // namespace kp::build
