#include "support/process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

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

[[noreturn]] void exec_child(int out, const std::vector<std::string> &argv, const std::string &cwd)
{
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

} // namespace

Expected<ProcessResult> run_process(const std::vector<std::string> &argv, const std::string &cwd)
{
	auto start = std::chrono::steady_clock::now();
	if (argv.empty())
		return Error(ErrorKind::internal, "run_process: empty command");
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno_error("pipe");
	Fd rd(fds[0]), wr(fds[1]);
	pid_t pid = fork();
	if (pid < 0)
		return errno_error("fork");
	if (pid == 0)
		exec_child(wr.get(), argv, cwd);
	wr.reset();
	ProcessResult r;
	char buf[65536];
	for (;;) {
		ssize_t n = read(rd.get(), buf, sizeof buf);
		if (n > 0)
			r.output.append(buf, static_cast<size_t>(n));
		else if (n == 0 || errno != EINTR)
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
