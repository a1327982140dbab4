#include "process.h"

#include "error.h"
#include "progress.h"
#include "support/process.h"

namespace kp::build {

std::string join_command(const std::vector<std::string> &argv)
{
	return kp::support::join_command(argv);
}

ProcResult run_process(const std::vector<std::string> &argv, const std::string &cwd, Log *log,
                       const std::function<void(std::string_view)> &on_output)
{
	auto r = take(kp::support::run_process(argv, cwd, on_output));
	ProcResult out{r.status, std::move(r.output), r.seconds};
	if (log) {
		log->write("$ " + (cwd.empty() ? "" : "(cd " + cwd + ") ") + join_command(argv) +
		           "\n" + out.output +
		           (out.output.empty() || out.output.back() == '\n' ? "" : "\n") +
		           "[exit " + std::to_string(out.status) + ", " +
		           std::to_string(out.seconds) + " s]\n");
	}
	return out;
}

} // namespace kp::build
