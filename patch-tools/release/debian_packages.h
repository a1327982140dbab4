// Debian's packages for a target kernel: which versions the archive (or dpkg) has, the
// packages themselves and the kernel source, downloaded and unpacked into kp-build's cache
// (never installed), and which Debian source a tree is. The archive side is
// patch-tools/debian_archive.py (the VM runner uses it too, with a cache of its own): one
// implementation of the archive access and of the cache layout.
#pragma once
#include <string>
#include <vector>

namespace kp::build {

class DebianArchive {
public:
	virtual ~DebianArchive() = default;
	// The installed version of package, empty when it is not installed.
	virtual std::string installed_version(const std::string &package) = 0;
	// The versions the archive offers, newest first; empty when it has none. Throws Error
	// when the archive cannot be asked.
	virtual std::vector<std::string> available_versions(const std::string &package) = 0;
	// Downloads and unpacks package=version (only the tar members `only`, when given; without
	// DWARF when strip_debug) and returns the unpacked directory. Throws Error (one line).
	virtual std::string fetch(const std::string &package, const std::string &version,
	                          const std::vector<std::string> &only = {},
	                          bool strip_debug = false) = 0;
	// Debian's source of package=version (linux-source-X.Y), extracted once into the cache;
	// returns the tree. Throws Error (one line).
	virtual std::string source_tree(const std::string &package, const std::string &version) = 0;
	// The Debian version of package whose source src is, established by its files (the
	// installed tarball's version, else `version`'s). Throws Error saying how src differs
	// from version's source.
	virtual std::string identify_source(const std::string &src, const std::string &package,
	                                    const std::string &version) = 0;
};

// The real archive: dpkg-query, and the fetcher script with its cache in cache_dir.
class FetcherArchive : public DebianArchive {
public:
	// fetcher: debian_kernel.py; cache_dir: where packages are unpacked.
	FetcherArchive(std::string fetcher, std::string cache_dir);
	std::string installed_version(const std::string &package) override;
	std::vector<std::string> available_versions(const std::string &package) override;
	std::string fetch(const std::string &package, const std::string &version,
	                  const std::vector<std::string> &only, bool strip_debug) override;
	std::string source_tree(const std::string &package, const std::string &version) override;
	std::string identify_source(const std::string &src, const std::string &package,
	                            const std::string &version) override;

private:
	std::vector<std::string> fetcher_command(const std::vector<std::string> &args) const;
	std::string fetcher_;
	std::string cache_dir_;
};

// The fetcher kp-build uses: $KP_DEBIAN_FETCHER, else the source tree's
// patch-tools/debian_archive.py.
std::string default_fetcher();

// The last non-empty line of a program's output (its one-line reason).
std::string last_line(const std::string &output);

} // namespace kp::build
