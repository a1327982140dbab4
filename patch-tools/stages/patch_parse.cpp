#include "patch_parse.h"

#include <fstream>
#include <sstream>

#include "error.h"

namespace kp::build {
namespace {

// "--- a/fs/proc/cmdline.c\t2026-11-24 ..." -> "a/fs/proc/cmdline.c"
std::string header_path(const std::string &line)
{
	std::string p = line.substr(4);
	auto tab = p.find('\t');
	if (tab != std::string::npos)
		p.resize(tab);
	while (!p.empty() && (p.back() == ' ' || p.back() == '\r'))
		p.pop_back();
	if (p.size() >= 2 && p.front() == '"' && p.back() == '"')
		p = p.substr(1, p.size() - 2);
	return p;
}

std::string strip_components(const std::string &p, int n)
{
	size_t pos = 0;
	for (int i = 0; i < n; ++i) {
		auto slash = p.find('/', pos);
		if (slash == std::string::npos)
			return {};
		pos = slash + 1;
	}
	return p.substr(pos);
}

} // namespace

bool is_assembly_file(const std::string &path)
{
	auto ends = [&](const char *s) {
		std::string suf(s);
		return path.size() >= suf.size() &&
		       path.compare(path.size() - suf.size(), suf.size(), suf) == 0;
	};
	return ends(".S") || ends(".s");
}

PatchInfo parse_patch(const std::string &text, const std::string &name)
{
	PatchInfo info;
	info.file = name;
	std::istringstream in(text);
	std::string line;
	std::vector<std::string> lines;
	while (std::getline(in, line))
		lines.push_back(line);

	struct RawHeader {
		std::string oldp, newp;
		size_t line;
	};
	std::vector<RawHeader> raw;
	std::vector<std::vector<std::string>> hunks;
	for (size_t i = 0; i < lines.size(); ++i) {
		const std::string &l = lines[i];
		if (l.rfind("--- ", 0) == 0 && i + 1 < lines.size() &&
		    lines[i + 1].rfind("+++ ", 0) == 0 && i + 2 < lines.size() &&
		    lines[i + 2].rfind("@@ ", 0) == 0) {
			raw.push_back({header_path(l), header_path(lines[i + 1]), i + 1});
			hunks.emplace_back();
			++i;
			continue;
		}
		if (l.rfind("@@ ", 0) == 0 && !hunks.empty())
			hunks.back().push_back(l);
		if (l.rfind("rename from ", 0) == 0 || l.rfind("copy from ", 0) == 0)
			throw Error(
			        ErrorKind::unsupported,
			        name + ":" + std::to_string(i + 1) +
			                ": renamed or copied files are not supported by kp-build");
		if (l.rfind("GIT binary patch", 0) == 0 || l.rfind("Binary files ", 0) == 0)
			throw Error(ErrorKind::unsupported,
			            name + ":" + std::to_string(i + 1) +
			                    ": binary patches are not supported");
	}
	if (raw.empty())
		throw Error(
		        name +
		        ": not a unified diff (no '---'/'+++' file headers followed by a hunk)");

	// -p1 when the headers carry the usual a/ b/ prefixes (diff -u a b, git diff), else -p0.
	bool prefixed = true;
	for (const auto &h : raw) {
		bool o = h.oldp == "/dev/null" || h.oldp.find('/') != std::string::npos;
		bool n = h.newp == "/dev/null" || h.newp.find('/') != std::string::npos;
		if (!o || !n)
			prefixed = false;
	}
	info.strip = prefixed ? 1 : 0;
	for (size_t k = 0; k < raw.size(); ++k) {
		const auto &h = raw[k];
		PatchedFile f;
		f.created = h.oldp == "/dev/null";
		f.deleted = h.newp == "/dev/null";
		if (f.created && f.deleted)
			throw Error(name + ":" + std::to_string(h.line) +
			            ": both file names are /dev/null");
		std::string p = strip_components(f.deleted ? h.oldp : h.newp, info.strip);
		if (p.empty() || p.rfind("../", 0) == 0 || p.find("/../") != std::string::npos ||
		    p.front() == '/')
			throw Error(name + ":" + std::to_string(h.line) +
			            ": unusable file name in header '" +
			            (f.deleted ? h.oldp : h.newp) + "'");
		f.path = p;
		f.hunks = hunks[k];
		info.files.push_back(std::move(f));
	}
	return info;
}

PatchInfo parse_patch_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw Error("cannot read patch file " + path);
	std::stringstream ss;
	ss << in.rdbuf();
	return parse_patch(ss.str(), path);
}

} // namespace kp::build
