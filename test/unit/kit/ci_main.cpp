// main() of every kp unit-test binary: GoogleTest's, plus one rule for CI.
//
// A test may skip when something it needs is missing on a developer's machine (the test
// kernel not built yet, no root). In CI (environment CI set and not "false") everything is
// there, so a skip means a test silently did not run: there a skipped test is reported and
// counted as a failure, and the binary exits 1. GoogleTest's printer is kept for everything
// else; it is only kept from printing "[  SKIPPED ]", which CTest (gtest_discover_tests)
// would otherwise count as a skip whatever the exit status.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

bool in_ci()
{
	const char *ci = std::getenv("CI");
	return ci && *ci && std::string(ci) != "false" && std::string(ci) != "0";
}

std::string full_name(const testing::TestInfo &info)
{
	return std::string(info.test_suite_name()) + "." + info.name();
}

// Forwards every event to GoogleTest's own printer, except the report of a skipped test,
// which it prints as a failure.
class CiPrinter : public testing::EmptyTestEventListener {
public:
	explicit CiPrinter(testing::TestEventListener *inner) : inner_(inner) {}

	void OnTestProgramStart(const testing::UnitTest &u) override
	{
		inner_->OnTestProgramStart(u);
	}
	void OnTestIterationStart(const testing::UnitTest &u, int i) override
	{
		inner_->OnTestIterationStart(u, i);
	}
	void OnEnvironmentsSetUpStart(const testing::UnitTest &u) override
	{
		inner_->OnEnvironmentsSetUpStart(u);
	}
	void OnTestSuiteStart(const testing::TestSuite &s) override { inner_->OnTestSuiteStart(s); }
	void OnTestStart(const testing::TestInfo &t) override { inner_->OnTestStart(t); }
	void OnTestPartResult(const testing::TestPartResult &r) override
	{
		inner_->OnTestPartResult(r);
	}
	void OnTestEnd(const testing::TestInfo &t) override
	{
		if (!t.result()->Skipped()) {
			inner_->OnTestEnd(t);
			return;
		}
		skipped_.push_back(full_name(t));
		std::cout << "[  FAILED  ] " << full_name(t)
		          << " (skipped; in CI a skipped test is a failure)\n";
	}
	void OnTestSuiteEnd(const testing::TestSuite &s) override { inner_->OnTestSuiteEnd(s); }
	void OnEnvironmentsTearDownStart(const testing::UnitTest &u) override
	{
		inner_->OnEnvironmentsTearDownStart(u);
	}
	void OnTestIterationEnd(const testing::UnitTest &u, int i) override
	{
		if (skipped_.empty()) {
			inner_->OnTestIterationEnd(u, i);
			return;
		}
		std::cout << "[==========] " << u.test_to_run_count() << " tests ran; "
		          << u.failed_test_count() << " failed, " << skipped_.size()
		          << " skipped, which in CI is a failure:\n";
		for (const auto &name : skipped_)
			std::cout << "[  FAILED  ] " << name << " (skipped)\n";
	}
	void OnTestProgramEnd(const testing::UnitTest &u) override { inner_->OnTestProgramEnd(u); }

	bool any_skipped() const { return !skipped_.empty(); }

private:
	std::unique_ptr<testing::TestEventListener> inner_;
	std::vector<std::string> skipped_;
};

} // namespace

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	if (!in_ci())
		return RUN_ALL_TESTS();

	auto &listeners = testing::UnitTest::GetInstance()->listeners();
	auto *printer = new CiPrinter(listeners.Release(listeners.default_result_printer()));
	listeners.Append(printer); // owned by GoogleTest from here on
	int rc = RUN_ALL_TESTS();
	return printer->any_skipped() ? 1 : rc;
}
