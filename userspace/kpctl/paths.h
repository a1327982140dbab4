// Every file and folder kpctl reads or writes, in one place (docs/kpctl.md, "Files").
// The installation defaults are fixed when kpctl is built (the CMake cache variables
// KPCTL_DEFAULT_STATE_DIR and KPCTL_DEFAULT_MODULES_ROOT); the environment overrides some
// of them at run time (docs/kpctl.md, "Environment"), which is how the tests point kpctl
// at a directory tree shaped like /sys or at a scratch state folder.
#pragma once

#include <string>

namespace kp::ctl::paths {

// The built-in defaults (what `kpctl install` will create and fill): /var/lib/kp and
// /lib/modules unless the build chose others.
std::string default_state_dir();
std::string default_modules_root();

// Root of sysfs: "/sys", or $KPCTL_SYSFS.
std::string sysfs();
// <sysfs>/kernel/kp: the core module's interface.
std::string kp_sysfs();
// <sysfs>/kernel/notes: the running kernel's ELF notes (its build ID).
std::string kernel_notes();
// <sysfs>/module/NAME: present while module NAME is loaded.
std::string sysfs_module(const std::string &name);

// "/proc": the tasks of the system.
std::string proc();
// The kernel command line `kpctl load --all --boot` reads: /proc/cmdline, or
// $KPCTL_CMDLINE (a file; for tests).
std::string kernel_cmdline();
// "/dev/kmsg": the kernel log.
std::string kmsg();

// kpctl's own state: $KPCTL_STATE_DIR, else default_state_dir.
std::string state_dir();
// <state dir>/rolled-back: the patches rolled back on this machine.
std::string rolled_back_file();

// <state dir>/RELEASE: the patches `kpctl install` keeps for that kernel release and
// `kpctl load --all` loads (installed.h).
std::string installed_dir(const std::string &release);

// <modules root>/RELEASE/kp: the installed patch modules (`kpctl list`).
std::string installed_patches(const std::string &release);
// <modules root>/RELEASE/extra/kp_core.ko: the installed core module.
std::string installed_core(const std::string &release);

} // namespace kp::ctl::paths
