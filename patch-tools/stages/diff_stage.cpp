#include "diff_stage.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "error.h"
#include "kp/abi.h"
#include "parallel.h"
#include "progress.h"

namespace kp::build {

namespace {

DiffResult diff_one(const DiffJob &j, const kp::ksym::SymbolTable &vmlinux, bool explain, Log &log)
{
	std::filesystem::create_directories(std::filesystem::path(j.output).parent_path());
	kp::diffgen::Options opts;
	opts.target = j.target;
	opts.symbols = j.symbols;
	opts.explain = explain;
	opts.dwarf = j.dwarf;
	opts.regenerated = j.regenerated;
	if (j.target == KP_OBJ_VMLINUX) {
		opts.symbol_table = &vmlinux;
		opts.anchor = true;
	}
	DiffResult r{j, kp::diffgen::run(j.original, j.patched, j.output, opts), {}};
	for (const auto &m : r.result.messages)
		r.report += "diffgen: " + m + "\n";
	r.report += r.result.explanation;
	log.write("diffgen " + j.original + " " + j.patched + " -> " + j.output + " (target " +
	          j.target + "): " + r.result.outcome() + "\n" + r.report);
	return r;
}

} // namespace

namespace {

std::string indent(const std::string &text)
{
	std::string out = "    ";
	for (size_t i = 0; i < text.size(); ++i) {
		out += text[i];
		if (text[i] == '\n' && i + 1 < text.size())
			out += "    ";
	}
	if (!out.empty() && out.back() != '\n')
		out += '\n';
	return out;
}

} // namespace

DiffSummary collect_diffs(const std::vector<DiffResult> &results, bool explain)
{
	DiffSummary s;
	std::string unsupported, errors;
	for (const auto &r : results) {
		if (explain && !r.report.empty())
			std::fprintf(stderr, "kp-build: diffgen report for %s:\n%s",
			             r.job.object.c_str(), indent(r.report).c_str());
		if (r.result.failure == ErrorKind::no_change)
			continue;
		if (r.result.failure == ErrorKind::unsupported) {
			unsupported += "\n  " + r.job.object + ":\n" + indent(r.report);
			continue;
		}
		if (r.result.failure) {
			errors += "\n  " + r.job.object + " (diffgen: " + r.result.outcome() +
			          "):\n" + indent(r.report);
			continue;
		}
		for (const auto &a : r.result.anchored)
			s.anchored.push_back(r.job.object + ": " + a);
		s.anchored_symbols += r.result.anchored.size();
		s.anchored_relocations += r.result.anchored_relocations;
		s.link_objects.push_back(r.job.output);
	}
	// A failure outranks a refusal (exit 1, not 2), and neither hides the other.
	if (!errors.empty())
		throw Error("diffgen failed:" + errors +
		            (unsupported.empty() ? "" : "\nand unsupported change:" + unsupported));
	if (!unsupported.empty())
		throw Error(ErrorKind::unsupported, "unsupported change:" + unsupported);
	if (s.link_objects.empty())
		throw Error(ErrorKind::no_change,
		            "no functional change: every rebuilt object (" +
		                    std::to_string(results.size()) +
		                    ") is identical in function to the original");
	return s;
}

std::vector<DiffResult> run_diffs(const std::vector<DiffJob> &jobs,
                                  const kp::ksym::SymbolTable &vmlinux, bool explain, int parallel,
                                  Log &log)
{
	std::vector<DiffResult> results(jobs.size());
	parallel_for(jobs.size(), parallel,
	             [&](size_t i) { results[i] = diff_one(jobs[i], vmlinux, explain, log); });
	return results;
}

} // namespace kp::build
