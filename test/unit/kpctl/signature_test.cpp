// kpctl's one line when the kernel refuses a module for its signature (issue 26): which
// finit_module(2) errors are signature refusals, and that the line says what to do.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>

#include "fixtures.h"
#include "loader.h"

using kp::ctl::signature_refusal;
using namespace kp::ctl::test;

namespace {

void expect_hint(const std::optional<std::string> &line, const std::string &says)
{
	ASSERT_TRUE(line.has_value());
	EXPECT_NE(line->find(says), std::string::npos) << *line;
	EXPECT_NE(line->find("/k/fix.ko"), std::string::npos) << *line;
	EXPECT_NE(line->find("kp-build --sign-key KEY --sign-cert CERT"), std::string::npos)
	        << *line;
	EXPECT_NE(line->find("mokutil --import CERT"), std::string::npos) << *line;
	EXPECT_EQ(line->find('\n'), std::string::npos) << *line;
}

} // namespace

TEST(Signature, RefusalsSayWhatToDo)
{
	fs::path sys = scratch_dir("sig-sysfs");
	setenv("KPCTL_SYSFS", sys.c_str(), 1);
	expect_hint(signature_refusal("/k/fix.ko", EKEYREJECTED), "requires signed modules");
	expect_hint(signature_refusal("/k/fix.ko", ENOKEY), "does not have the key");
	expect_hint(signature_refusal("/k/fix.ko", EBADMSG), "cannot check the signature");
	// EPERM is a signature refusal only under lockdown.
	EXPECT_FALSE(signature_refusal("/k/fix.ko", EPERM));
	write_file(sys / "kernel/security/lockdown", "[none] integrity confidentiality\n");
	EXPECT_FALSE(signature_refusal("/k/fix.ko", EPERM));
	write_file(sys / "kernel/security/lockdown", "none [integrity] confidentiality\n");
	expect_hint(signature_refusal("/k/fix.ko", EPERM), "kernel lockdown (integrity)");
	EXPECT_FALSE(signature_refusal("/k/fix.ko", EINVAL));
	EXPECT_FALSE(signature_refusal("/k/fix.ko", EEXIST));
	unsetenv("KPCTL_SYSFS");
}
