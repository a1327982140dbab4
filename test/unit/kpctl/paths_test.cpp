// paths.h: every path kpctl uses, the built-in defaults and the environment's overrides.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "paths.h"

namespace paths = kp::ctl::paths;

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class EnvGuard {
public:
	EnvGuard(const char *name, std::optional<std::string> value) : name_(name)
	{
		if (const char *old = std::getenv(name))
			old_ = old;
		if (value)
			setenv(name, value->c_str(), 1);
		else
			unsetenv(name);
	}
	~EnvGuard()
	{
		if (old_)
			setenv(name_, old_->c_str(), 1);
		else
			unsetenv(name_);
	}
	EnvGuard(const EnvGuard &) = delete;
	EnvGuard &operator=(const EnvGuard &) = delete;

private:
	const char *name_;
	std::optional<std::string> old_;
};

} // namespace

TEST(Paths, InstalledDefaults)
{
	EnvGuard sys("KPCTL_SYSFS", std::nullopt);
	EnvGuard state("KPCTL_STATE_DIR", std::nullopt);
	EXPECT_EQ(paths::default_state_dir(), "/var/lib/kp");
	EXPECT_EQ(paths::default_modules_root(), "/lib/modules");
	EXPECT_EQ(paths::sysfs(), "/sys");
	EXPECT_EQ(paths::kp_sysfs(), "/sys/kernel/kp");
	EXPECT_EQ(paths::kernel_notes(), "/sys/kernel/notes");
	EXPECT_EQ(paths::sysfs_module("kp_core"), "/sys/module/kp_core");
	EXPECT_EQ(paths::proc(), "/proc");
	EXPECT_EQ(paths::kmsg(), "/dev/kmsg");
	EXPECT_EQ(paths::state_dir(), "/var/lib/kp");
	EXPECT_EQ(paths::rolled_back_file(), "/var/lib/kp/rolled-back");
	EXPECT_EQ(paths::installed_patches("6.1.0-57-cloud-amd64"),
	          "/lib/modules/6.1.0-57-cloud-amd64/kp");
	EXPECT_EQ(paths::installed_core("6.1.0"), "/lib/modules/6.1.0/extra/kp_core.ko");
}

TEST(Paths, TheEnvironmentMovesSysfsAndTheStateDir)
{
	EnvGuard sys("KPCTL_SYSFS", "/tmp/fake-sys");
	EnvGuard state("KPCTL_STATE_DIR", "/tmp/state");
	EXPECT_EQ(paths::kp_sysfs(), "/tmp/fake-sys/kernel/kp");
	EXPECT_EQ(paths::kernel_notes(), "/tmp/fake-sys/kernel/notes");
	EXPECT_EQ(paths::sysfs_module("x"), "/tmp/fake-sys/module/x");
	EXPECT_EQ(paths::rolled_back_file(), "/tmp/state/rolled-back");
	// Module folders are not test seams: they stay where an installation puts them.
	EXPECT_EQ(paths::installed_core("r"), "/lib/modules/r/extra/kp_core.ko");
}

TEST(Paths, AnEmptyVariableMeansTheDefault)
{
	EnvGuard sys("KPCTL_SYSFS", "");
	EnvGuard state("KPCTL_STATE_DIR", "");
	EXPECT_EQ(paths::sysfs(), "/sys");
	EXPECT_EQ(paths::state_dir(), "/var/lib/kp");
}
