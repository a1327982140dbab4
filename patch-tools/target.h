// The kernel a patch module is built for, as the pipeline (pipeline.cpp) sees it: either
// the user's built tree (own/own_target.h) or a release that is not SRC's own build
// (release/release_target.h, --kernel). The pipeline runs the same stages over either;
// each stage of a target takes values and returns values.
#pragma once
#include <string>
#include <vector>

#include "options.h"

namespace kp::build {

class Log;
class Progress;
struct PatchInfo;

// What every stage of one target's run may use.
struct RunContext {
	const Options &opt;
	int jobs;
	std::string cache_dir;
	std::string work; // this target's work directory
	Log &log;
	Progress &progress;
};

// What a stage did, for its progress line.
struct StageReport {
	std::string detail;
	double compiler_seconds = 0; // time in make
};

// The objects the patch changes.
struct TargetObjects {
	std::vector<std::string> objects; // tree-relative, e.g. "fs/proc/cmdline.o"
	StageReport report;
};

// One object of the patch compiled before and after, and the image it went into.
struct PatchObject {
	std::string object;   // tree-relative
	std::string original; // compiled from the original source
	std::string patched;  // compiled from the patched source
	std::string module;   // "" for vmlinux
	std::string image;    // the target's image of it: vmlinux, or the module's .ko
};

struct BuiltObjects {
	std::vector<PatchObject> objects;
	StageReport report;
};

// The kernel tree the patch module and kp_core.ko are linked against.
struct LinkTree {
	std::string kdir;
	std::vector<std::string> make_vars; // for every make in kdir
	std::string symvers;                // the kernel's Module.symvers (exports, CRCs)
};

class Target {
public:
	virtual ~Target() = default;
	virtual const std::string &release() const = 0;
	virtual const std::string &vmlinux() const = 0;  // the image, with symbols
	virtual const std::string &build_id() const = 0; // its GNU build ID, hex
	// Stage "original build": the unpatched source, built (or found in the cache).
	virtual StageReport build_original(RunContext &ctx) = 0;
	// Stage "objects": the objects the patches change.
	virtual TargetObjects objects(const std::vector<PatchInfo> &patches, RunContext &ctx) = 0;
	// Stage "patched build": @objects before and after the patches, below ctx.work.
	virtual BuiltObjects build(const std::vector<PatchInfo> &patches,
	                           const std::vector<std::string> &objects, RunContext &ctx) = 0;
	// DWARF files for diffgen's special-section entry sizes (empty: diffgen's default).
	virtual std::vector<std::string> entry_type_dwarf(RunContext &ctx) = 0;
	virtual LinkTree link_tree(RunContext &ctx) = 0;
};

} // namespace kp::build
