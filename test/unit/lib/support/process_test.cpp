// run_process: exit statuses, output, the timeout (kpctl load --check-timeout), and a
// command that dies with the process that ran it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "support/process.h"

using kp::support::run_process;

TEST(RunProcess, StatusAndOutput)
{
	auto r = run_process({"/bin/sh", "-c", "echo hi; exit 3"});
	ASSERT_TRUE(r);
	EXPECT_EQ(r->status, 3);
	EXPECT_EQ(r->output, "hi\n");
	EXPECT_FALSE(r->timed_out);
}

TEST(RunProcess, FinishedWithinTheTimeoutIsNotTimedOut)
{
	auto r = run_process({"/bin/sh", "-c", "echo quick"}, {}, {}, 5);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->status, 0);
	EXPECT_EQ(r->output, "quick\n");
	EXPECT_FALSE(r->timed_out);
}

// A hung command is killed at the timeout, with the processes it started (its group).
TEST(RunProcess, TimeoutKillsTheCommandAndItsChildren)
{
	auto r = run_process({"/bin/sh", "-c", "echo started; sleep 30 & echo $! >&2; wait"}, {},
	                     {}, 0.5);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->timed_out);
	EXPECT_EQ(r->status, 128 + SIGKILL);
	EXPECT_GE(r->seconds, 0.5);
	EXPECT_LT(r->seconds, 5);
	// The background sleep (its pid on the second line) was killed too.
	auto nl = r->output.find('\n');
	ASSERT_NE(nl, std::string::npos) << r->output;
	std::string pid = r->output.substr(nl + 1);
	pid = pid.substr(0, pid.find('\n'));
	ASSERT_FALSE(pid.empty()) << r->output;
	bool gone = false;
	for (int i = 0; i < 100 && !gone; i++) {
		std::ifstream stat("/proc/" + pid + "/stat");
		std::string line;
		gone = !std::getline(stat, line) || line.find(") Z ") != std::string::npos;
		if (!gone)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	EXPECT_TRUE(gone) << "sleep " << pid << " outlived the timeout";
}

namespace {

bool process_gone(pid_t pid)
{
	for (int i = 0; i < 250; i++) {
		std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
		std::string line;
		if (!std::getline(stat, line) || line.find(") Z ") != std::string::npos)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	return false;
}

} // namespace

// A process killed while its command runs (kp-build killed mid-make) takes the command
// with it: the command must not go on working in a tree whose lock died with its runner.
TEST(RunProcess, TheCommandDiesWithItsRunner)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	pid_t runner = fork();
	ASSERT_GE(runner, 0);
	if (runner == 0) {
		close(fds[0]);
		std::string script = "echo $$ >&" + std::to_string(fds[1]) + "; exec sleep 30";
		auto r = run_process({"/bin/sh", "-c", script});
		_exit(r ? 0 : 1);
	}
	close(fds[1]);
	char buf[32] = {};
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	ASSERT_GT(n, 0);
	pid_t command = static_cast<pid_t>(std::stol(buf));
	kill(runner, SIGKILL);
	waitpid(runner, nullptr, 0);
	bool gone = process_gone(command);
	if (!gone)
		kill(command, SIGKILL);
	EXPECT_TRUE(gone) << "the command " << command << " outlived its runner";
}
