#include "commands/commands.h"

#include "commands/wait.h"
#include "kmsg.h"
#include "loader.h"
#include "module_file.h"
#include "sysfs.h"

#include <cerrno>
#include <iostream>

namespace kpctl {

namespace {

std::string joined(const std::vector<std::string> &lines)
{
    std::string s;
    for (const auto &l : lines)
        s += (s.empty() ? "" : " | ") + l;
    return s;
}

// The core's per-try lines ("enable attempt 2/5 blocked by 1 task(s)"): noise in a
// list of blocking tasks.
bool is_attempt_line(const std::string &l)
{
    return l.find(" attempt ") != std::string::npos && l.find(" blocked by ") != std::string::npos;
}

// Removes the core again if this command loaded it and the patch did not make it in,
// so that a failed load leaves the system as it was.
class CoreGuard {
public:
    explicit CoreGuard(bool loaded_by_us) : ours_(loaded_by_us) {}
    ~CoreGuard()
    {
        if (ours_ && !keep_ && loaded_patch_names().empty() && remove_module(core_module_name) != 0)
            std::cerr << "kpctl: note: could not remove the core module kp_core loaded for this attempt\n";
    }
    CoreGuard(const CoreGuard &) = delete;
    CoreGuard &operator=(const CoreGuard &) = delete;
    void keep() { keep_ = true; }

private:
    bool ours_;
    bool keep_ = false;
};

}  // namespace

Exit cmd_load(const LoadOptions &o)
{
    require_root("load");
    ModuleInfo m = read_module(o.file);
    check_target(m);
    const std::string name = m.name;
    if (module_loaded(name) || read_patch(name))
        throw Error(Exit::already_loaded, "patch " + name + " is already loaded; see kpctl status " + name +
                    ", or kpctl unload " + name + " first to reload it");

    auto deadline = deadline_after(o.timeout);
    bool core_loaded_here = ensure_core(o.core, o.file);
    if (core_loaded_here)
        progress("loaded the core module kp_core");
    CoreGuard core_guard(core_loaded_here);

    std::vector<std::string> last_core;
    for (unsigned attempt = 1;; attempt++) {
        KmsgCursor log;
        int err = load_module(o.file);
        last_core = core_messages(log.read_new(), name);
        if (err == 0)
            break;
        if (err == EEXIST)
            throw Error(Exit::already_loaded, "patch " + name + " is already loaded; see kpctl status " + name);
        if (err != EBUSY) {
            std::string why = last_core.empty() ? "" : " (core: " + joined(last_core) + ")";
            throw Error(Exit::load_failed, errno_text("the kernel refused patch " + name, err) + why +
                        "; nothing was patched; check the kernel log (dmesg) for details");
        }
        std::string who = blocker_summary(last_core);
        if (Clock::now() >= deadline) {
            std::cerr << "kpctl: tasks blocking patch " << name << " at the last attempt:\n";
            for (const auto &l : last_core)
                if (!is_attempt_line(l))
                    std::cerr << "  " << l << "\n";
            throw Error(Exit::busy, "patch " + name + " not applied: tasks were inside functions it replaces for " +
                        std::to_string(attempt) + " attempt(s) until the timeout; nothing was patched; retry later or with a longer --timeout");
        }
        progress("attempt " + std::to_string(attempt) + ": transition busy" + (who.empty() ? "" : " (" + who + ")") +
                 "; retrying for " + std::to_string(static_cast<int>(seconds_left(deadline) + 0.5)) + " s more");
        nap(deadline, 1000);
    }

    // The module is in; the patch must now be in force.  Give the core a little time
    // even if the retries used up the deadline.
    auto settle = std::max(deadline, deadline_after(5));
    auto st = wait_settled(name, true, settle);
    if (st && st->enabled && st->transition == "idle") {
        std::cout << "kpctl: patch " << name << " enabled (" << st->funcs.size() << " function(s))\n";
        core_guard.keep();
        return Exit::ok;
    }
    // Not in force: take the module out again so that nothing changed.
    std::string undo;
    if (st && st->transition != "idle") {
        auto who = blockers(st->blocked, last_core);
        std::cerr << "kpctl: patch " << name << " stayed in transition " << st->transition << "; blocking tasks:\n";
        for (const auto &l : who)
            std::cerr << "  " << l << "\n";
        write_enabled(name, false);
        wait_settled(name, false, deadline_after(10));
    }
    if (int err = remove_module(name); err != 0 && err != ENOENT) {
        core_guard.keep();
        undo = "; removing module " + name + " failed too (" + errno_text("delete_module", err) + "), remove it with rmmod";
    }
    if (st && st->transition != "idle")
        throw Error(Exit::busy, "patch " + name + " did not finish its transition before the timeout and was reverted" + undo +
                    "; retry later or with a longer --timeout");
    std::string state = st ? "the core left it disabled" : "the core shows no patch for it in " + kp_sysfs_dir();
    throw Error(Exit::load_failed, "module " + name + " loaded but " + state + ", so it was removed again" + undo +
                "; check the kernel log (dmesg)");
}

}  // namespace kpctl
