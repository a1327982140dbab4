// The first line of `kpctl status`: the state in force first, then who holds a transition.
#include <gtest/gtest.h>

#include "render/status_text.h"

namespace {

kp::ctl::PatchState in_transition(const std::string &transition, unsigned long long ms,
                                  std::vector<std::string> pending)
{
	kp::ctl::PatchState p;
	p.name = "kp_x";
	p.enabled = transition == "enabling";
	p.transition = transition;
	p.transition_ms = ms;
	p.timeout = 60;
	p.pending_count = static_cast<unsigned>(pending.size());
	p.pending = std::move(pending);
	return p;
}

} // namespace

TEST(StatusText, SettledStatesAreOneWord)
{
	kp::ctl::PatchState p;
	p.name = "kp_x";
	p.transition = "idle";
	p.enabled = true;
	EXPECT_EQ(kp::ctl::status_headline(p, 537), "kp_x: enabled");
	p.enabled = false;
	EXPECT_EQ(kp::ctl::status_headline(p, 537), "kp_x: disabled");
	p.forced = true;
	EXPECT_EQ(kp::ctl::status_headline(p, 0),
	          "kp_x: disabled, FORCED (the module cannot be removed)");
}

TEST(StatusText, TransitionLeadsWithItsDirectionAndWhoHoldsIt)
{
	auto p = in_transition("enabling", 2400, {"149 cat pipe_read+0x1d/0x4c0"});
	EXPECT_EQ(kp::ctl::status_headline(p, 537),
	          "kp_x: enabling, 1 of 537 tasks not switched yet (cat 149 in pipe_read), "
	          "reverses in 58 s");
	// enabled reads 1 while enabling: the headline must not start with "enabled".
	EXPECT_EQ(kp::ctl::status_headline(p, 537).rfind("kp_x: enabled", 0), std::string::npos);
}

TEST(StatusText, DisablingNamesTwoTasksAndCountsTheRest)
{
	auto p = in_transition("disabling", 0,
	                       {"7 kp_busy/1 kp_busy_wait_new+0x10/0x40 [kp_test_busy_patch]",
	                        "12 sh do_wait+0x1/0x2", "13 sh do_wait+0x1/0x2",
	                        "14 sh do_wait+0x1/0x2"});
	EXPECT_EQ(kp::ctl::status_headline(p, 100),
	          "kp_x: disabling, 4 of 100 tasks not switched yet (kp_busy/1 7 in "
	          "kp_busy_wait_new, sh 12 in do_wait and 2 more), reverses in 60 s");
}

TEST(StatusText, UnknownTotalAndTimeoutPassed)
{
	auto p = in_transition("enabling", 61000, {"3 kworker/0:1 unreliable-stack"});
	EXPECT_EQ(kp::ctl::status_headline(p, 0),
	          "kp_x: enabling, 1 task not switched yet (kworker/0:1 3, stack unreadable), "
	          "reversing now");
	// Fewer tasks counted now than are pending (they exited since): never "2 of 1".
	auto q = in_transition("enabling", 1, {"1 a f+0/1", "2 b g+0/1"});
	EXPECT_EQ(kp::ctl::status_headline(q, 1),
	          "kp_x: enabling, 2 of 2 tasks not switched yet (a 1 in f, b 2 in g), reverses "
	          "in 60 s");
}

// An enable whose on_timeout is pending (the core's default) stays pending at its
// timeout: the headline says so before, and once stalled that it is live for the others.
TEST(StatusText, PendingEnableSaysItStaysPending)
{
	auto p = in_transition("enabling", 2400, {"149 cat kp_veto_value+0x1b/0x30 [kp_t]"});
	p.on_timeout = "pending";
	EXPECT_EQ(kp::ctl::status_headline(p, 537),
	          "kp_x: enabling, 1 of 537 tasks not switched yet (cat 149 in kp_veto_value), "
	          "stays pending in 58 s");
	p.transition_ms = 60000;
	EXPECT_EQ(kp::ctl::status_headline(p, 537).substr(p.name.size()),
	          ": enabling, 1 of 537 tasks not switched yet (cat 149 in kp_veto_value), "
	          "pending now");
	p.stalled = true;
	p.transition_ms = 90000;
	EXPECT_EQ(kp::ctl::status_headline(p, 537),
	          "kp_x: enabling, 1 of 537 tasks not switched yet (cat 149 in kp_veto_value), "
	          "pending past its 60 s timeout: live for every other task");
	// A disable reverses whatever on_timeout says.
	auto d = in_transition("disabling", 2400, {"1 a f+0/1"});
	d.on_timeout = "pending";
	EXPECT_EQ(kp::ctl::timeout_outcome(d), "reverses");
}

TEST(StatusText, EveryTaskSwitched)
{
	auto p = in_transition("enabling", 500, {});
	EXPECT_EQ(kp::ctl::status_headline(p, 10),
	          "kp_x: enabling, every task switched, finishing");
}

TEST(StatusText, PendingTaskShapes)
{
	EXPECT_EQ(kp::ctl::describe_pending_task("149 cat pipe_read+0x1d/0x4c0"),
	          "cat 149 in pipe_read");
	EXPECT_EQ(kp::ctl::describe_pending_task("5 my prog f+0x1/0x2 [m]"), "my prog 5 in f");
	EXPECT_EQ(kp::ctl::describe_pending_task("garbage"), "garbage");
	EXPECT_EQ(kp::ctl::describe_pending_task("x cat f+0/1"), "x cat f+0/1");
}
