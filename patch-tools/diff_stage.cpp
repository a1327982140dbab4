#include "diff_stage.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include "kp/abi.h"
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
	if (j.target == KP_OBJ_VMLINUX) {
		opts.symbol_table = &vmlinux;
		opts.anchor = true;
	}
	DiffResult r{j, kp::diffgen::run(j.original, j.patched, j.output, opts), {}};
	for (const auto &m : r.result.messages)
		r.report += "diffgen: " + m + "\n";
	r.report += r.result.explanation;
	log.write("diffgen " + j.original + " " + j.patched + " -> " + j.output + " (target " +
	          j.target + "): exit " + std::to_string(r.result.code) + "\n" + r.report);
	return r;
}

} // namespace

std::vector<DiffResult> run_diffs(const std::vector<DiffJob> &jobs,
                                  const kp::ksym::SymbolTable &vmlinux, bool explain, int parallel,
                                  Log &log)
{
	std::vector<DiffResult> results(jobs.size());
	std::atomic<size_t> next{0};
	auto worker = [&] {
		for (size_t i = next++; i < jobs.size(); i = next++)
			results[i] = diff_one(jobs[i], vmlinux, explain, log);
	};
	size_t n =
	        std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(parallel), jobs.size()));
	std::vector<std::thread> threads;
	for (size_t t = 0; t < n; ++t)
		threads.emplace_back(worker);
	for (auto &t : threads)
		t.join();
	return results;
}

} // namespace kp::build
