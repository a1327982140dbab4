// kpctl load --canary: the selectors and their errors, on a fake /proc; the status line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "canary.h"
#include "errors.h"
#include "render/status_text.h"

namespace fs = std::filesystem;

namespace {

class CanarySelectors : public ::testing::Test {
protected:
	void SetUp() override
	{
		proc_ = fs::path(KPCTL_WORK) / "canary-proc";
		fs::remove_all(proc_);
		process(12, "sh", 0x00400100);
		process(34, "my (odd) name", 0x00400000);
		process(2, "kthreadd", 0x00208040); // PF_KTHREAD
	}
	void process(int pid, const std::string &comm, unsigned long flags)
	{
		fs::create_directories(proc_ / std::to_string(pid));
		std::ofstream(proc_ / std::to_string(pid) / "stat")
		        << pid << " (" << comm << ") S 1 " << pid << " " << pid << " 0 -1 " << flags
		        << " 0 0 0 0\n";
	}
	std::vector<pid_t> pids(std::vector<std::string> sel)
	{
		return kp::ctl::canary_pids(sel, proc_.string());
	}
	// The message of the usage error @sel raises.
	std::string error(std::vector<std::string> sel)
	{
		try {
			pids(std::move(sel));
		} catch (const kp::ctl::Error &e) {
			EXPECT_EQ(e.code(), kp::ctl::Exit::usage);
			return e.what();
		}
		ADD_FAILURE() << "no error";
		return "";
	}
	fs::path proc_;
};

} // namespace

TEST_F(CanarySelectors, PidsSortedWithoutDuplicates)
{
	EXPECT_EQ(pids({"pid:34,pid:12", "pid:34"}), (std::vector<pid_t>{12, 34}));
}

TEST_F(CanarySelectors, EachMistakeIsNamed)
{
	EXPECT_EQ(error({"12"}), "--canary 12: unknown selector (a selector is pid:PID or "
	                         "cgroup:PATH, several separated by commas)");
	EXPECT_NE(error({"pid:12x"}).find("--canary pid:12x: '12x' is not a process id"),
	          std::string::npos);
	EXPECT_NE(error({"pid:0"}).find("'0' is not a process id"), std::string::npos);
	EXPECT_NE(error({"pid:99"}).find("--canary pid:99: no process 99"), std::string::npos);
	EXPECT_NE(error({"pid:2"}).find("process 2 is a kernel thread"), std::string::npos);
	EXPECT_NE(error({"cgroup:relative/x"}).find("the cgroup path must be absolute"),
	          std::string::npos);
	EXPECT_NE(error({"cgroup:" + proc_.string()}).find("is not a cgroup v2 directory"),
	          std::string::npos);
	EXPECT_NE(error({"cgroup:/nonexistent-kp"}).find("is not a directory"), std::string::npos);
	EXPECT_NE(error({"pid:12,"}).find("unknown selector"), std::string::npos);
}

TEST_F(CanarySelectors, AtMostTheCoresLimit)
{
	std::string many;
	for (int pid = 100; pid < 100 + 65; pid++) {
		process(pid, "w", 0);
		many += (many.empty() ? "pid:" : ",pid:") + std::to_string(pid);
	}
	EXPECT_NE(error({many}).find("selects 65 processes; the core takes at most 64"),
	          std::string::npos);
}

TEST(StatusText, CanaryNamesItsTasksAndTheWayOut)
{
	kp::ctl::PatchState p;
	p.name = "kp_x";
	p.enabled = true;
	p.transition = "canary";
	p.canary = {"123 sh"};
	EXPECT_EQ(kp::ctl::status_headline(p, 537),
	          "kp_x: in canary: 1 task (sh 123) run the new code, every other task the old; "
	          "kpctl promote kp_x or kpctl abort kp_x");
	p.canary = {"123 sh", "130 cat", "131 my worker"};
	EXPECT_EQ(kp::ctl::status_headline(p, 537),
	          "kp_x: in canary: 3 tasks (sh 123, cat 130 and 1 more) run the new code, every "
	          "other task the old; kpctl promote kp_x or kpctl abort kp_x");
}
