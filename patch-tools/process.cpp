#include "process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "error.hpp"
#include "progress.hpp"

namespace kpb {

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t\"'$\\") == std::string::npos;
    s += plain ? a : "'" + a + "'";
  }
  return s;
}

ProcResult run_process(const std::vector<std::string>& argv, const std::string& cwd, Log* log,
                       const std::function<void(std::string_view)>& on_output) {
  auto start = std::chrono::steady_clock::now();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
      dprintf(2, "cannot chdir to %s: %s\n", cwd.c_str(), strerror(errno));
      _exit(127);
    }
    execvp(args[0], args.data());
    dprintf(2, "cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  ProcResult r;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      r.output.append(buf, static_cast<size_t>(n));
      if (on_output) on_output(std::string_view(buf, static_cast<size_t>(n)));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (log) {
    log->write("$ " + (cwd.empty() ? "" : "(cd " + cwd + ") ") + join_command(argv) + "\n" +
               r.output + (r.output.empty() || r.output.back() == '\n' ? "" : "\n") +
               "[exit " + std::to_string(r.status) + ", " + std::to_string(r.seconds) + " s]\n");
  }
  return r;
}

}  // namespace kpb
