#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "support/fd.h"

namespace kp::support {

std::string join_command(const std::vector<std::string> &argv)
{
	std::string s;
	for (const auto &a : argv) {
		if (!s.empty())
			s += ' ';
		bool plain = !a.empty() && a.find_first_of(" \t\"'$\\") == std::string::npos;
		s += plain ? a : "'" + a + "'";
	}
	return s;
}

namespace {

[[noreturn]] void exec_child(int out, const std::vector<std::string> &argv, const std::string &cwd,
                             bool own_group, pid_t parent)
{
	if (own_group)
		setpgid(0, 0);
	// The command dies with the process that ran it: a kp-build killed mid-make must not
	// leave its make compiling in a shared tree after its lock is gone.  (The thread that
	// forks waits for the child, so a worker thread's exit never triggers it early.)
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	std::vector<char *> args;
	for (const auto &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);
	dup2(out, 1);
	dup2(out, 2);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
		dprintf(2, "cannot chdir to %s: %s\n", cwd.c_str(), strerror(errno));
		_exit(127);
	}
	execvp(args[0], args.data());
	dprintf(2, "cannot run %s: %s\n", args[0], strerror(errno));
	_exit(127);
}

// Waits until @fd is readable (or at its end); false when @deadline passed first.
bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline)
{
	for (;;) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
		        deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			return false;
		pollfd p{fd, POLLIN, 0};
		int n = poll(&p, 1,
		             static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30)));
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return true; // let read() report it
	}
}

} // namespace

Expected<ProcessResult> run_process(const std::vector<std::string> &argv, const std::string &cwd,
                                    const std::function<void(std::string_view)> &on_output,
                                    double timeout_s)
{
	auto start = std::chrono::steady_clock::now();
	if (argv.empty())
		return Error(ErrorKind::internal, "run_process: empty command");
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno_error("pipe");
	Fd rd(fds[0]), wr(fds[1]);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return errno_error("fork");
	bool own_group = timeout_s > 0;
	if (pid == 0)
		exec_child(wr.get(), argv, cwd, own_group, parent);
	if (own_group)
		setpgid(pid, pid); // the child does it too: whichever runs first
	wr.reset();
	ProcessResult r;
	auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
	                                std::chrono::duration<double>(timeout_s));
	char buf[65536];
	for (;;) {
		if (own_group && !wait_readable(rd.get(), deadline)) {
			kill(-pid, SIGKILL);
			r.timed_out = true;
			break; // a process that left the group may hold the pipe: read no more
		}
		ssize_t n = read(rd.get(), buf, sizeof buf);
		if (n > 0) {
			r.output.append(buf, static_cast<size_t>(n));
			if (on_output)
				on_output(std::string_view(buf, static_cast<size_t>(n)));
		} else if (n == 0 || errno != EINTR)
			break;
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	return r;
}

} // namespace kp::support
