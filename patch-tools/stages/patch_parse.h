// Reading unified diffs: which files a patch touches and its hunks (for error messages).
#pragma once
#include <string>
#include <vector>

namespace kp::build {

struct PatchedFile {
	std::string path;     // path in the tree after stripping (the new name, or the old
	                      // one for a deleted file)
	bool created = false; // --- /dev/null
	bool deleted = false; // +++ /dev/null
	std::vector<std::string> hunks; // "@@ -a,b +c,d @@ context" lines, in order
};

struct PatchInfo {
	std::string file; // the patch file it came from
	int strip = 1;    // -p level for patch(1)
	std::vector<PatchedFile> files;
};

// Parses a unified diff (plain or git format). Throws Error when the text has no file
// headers or a header is malformed, naming file and line.
PatchInfo parse_patch(const std::string &text, const std::string &name);
PatchInfo parse_patch_file(const std::string &path);

bool is_assembly_file(const std::string &path);

} // namespace kp::build
