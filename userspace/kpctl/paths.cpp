#include "paths.h"

#include <cstdlib>

#ifndef KPCTL_DEFAULT_STATE_DIR
#define KPCTL_DEFAULT_STATE_DIR "/var/lib/kp"
#endif
#ifndef KPCTL_DEFAULT_MODULES_ROOT
#define KPCTL_DEFAULT_MODULES_ROOT "/lib/modules"
#endif

namespace kp::ctl::paths {

namespace {

std::string env_or(const char *name, const std::string &fallback)
{
	const char *v = std::getenv(name);
	return v && *v ? v : fallback;
}

} // namespace

std::string default_state_dir()
{
	return KPCTL_DEFAULT_STATE_DIR;
}

std::string default_modules_root()
{
	return KPCTL_DEFAULT_MODULES_ROOT;
}

std::string sysfs()
{
	return env_or("KPCTL_SYSFS", "/sys");
}

std::string kp_sysfs()
{
	return sysfs() + "/kernel/kp";
}

std::string kernel_notes()
{
	return sysfs() + "/kernel/notes";
}

std::string sysfs_module(const std::string &name)
{
	return sysfs() + "/module/" + name;
}

std::string proc()
{
	return "/proc";
}

std::string kernel_cmdline()
{
	return env_or("KPCTL_CMDLINE", proc() + "/cmdline");
}

std::string kmsg()
{
	return "/dev/kmsg";
}

std::string state_dir()
{
	return env_or("KPCTL_STATE_DIR", default_state_dir());
}

std::string rolled_back_file()
{
	return state_dir() + "/rolled-back";
}

std::string installed_dir(const std::string &release)
{
	return state_dir() + "/" + release;
}

std::string installed_patches(const std::string &release)
{
	return default_modules_root() + "/" + release + "/kp";
}

std::string installed_core(const std::string &release)
{
	return default_modules_root() + "/" + release + "/extra/kp_core.ko";
}

} // namespace kp::ctl::paths
