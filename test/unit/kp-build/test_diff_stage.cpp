// The diff stage's verdict over several objects (stages/diff_stage.h collect_diffs): a
// failure outranks a refusal and both are named; a refusal outranks no change; only
// changed objects are linked.
#include <gtest/gtest.h>

#include "stages/diff_stage.h"

using kp::ErrorKind;
using kp::build::collect_diffs;
using kp::build::DiffResult;

namespace {

DiffResult result(const std::string &object, std::optional<ErrorKind> failure,
                  const std::string &report = "")
{
	DiffResult r;
	r.job.object = object;
	r.job.output = object + ".patch.o";
	r.result.failure = failure;
	r.report = report;
	return r;
}

ErrorKind kind_of(const std::vector<DiffResult> &results, std::string &message)
{
	try {
		collect_diffs(results, false);
	} catch (const kp::Failure &e) {
		message = e.what();
		return e.kind();
	}
	ADD_FAILURE() << "collect_diffs did not throw";
	return ErrorKind::internal;
}

} // namespace

TEST(DiffStage, LinksOnlyTheChangedObjects)
{
	auto s = collect_diffs({result("a.o", std::nullopt), result("b.o", ErrorKind::no_change)},
	                       false);
	EXPECT_EQ(s.link_objects, std::vector<std::string>{"a.o.patch.o"});
}

TEST(DiffStage, NothingChangedIsNoChange)
{
	std::string msg;
	EXPECT_EQ(kind_of({result("a.o", ErrorKind::no_change)}, msg), ErrorKind::no_change);
}

TEST(DiffStage, ARefusalOutranksAChange)
{
	std::string msg;
	EXPECT_EQ(kind_of({result("a.o", std::nullopt),
	                   result("b.o", ErrorKind::unsupported, "changed existing data: x")},
	                  msg),
	          ErrorKind::unsupported);
	EXPECT_NE(msg.find("b.o"), std::string::npos) << msg;
	EXPECT_NE(msg.find("changed existing data: x"), std::string::npos) << msg;
}

TEST(DiffStage, AFailureOutranksARefusalAndNamesBoth)
{
	std::string msg;
	ErrorKind k = kind_of({result("a.o", ErrorKind::unsupported, "changed existing data: x"),
	                       result("b.o", ErrorKind::failed, "cannot read b.o")},
	                      msg);
	EXPECT_NE(k, ErrorKind::unsupported) << msg;
	EXPECT_NE(msg.find("cannot read b.o"), std::string::npos) << msg;
	EXPECT_NE(msg.find("changed existing data: x"), std::string::npos) << msg;
}
