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

bool looks_like_file(const std::string &t)
{
    return t.find('/') != std::string::npos ||
           (t.size() > 3 && t.compare(t.size() - 3, 3, ".ko") == 0);
}

}  // namespace

Exit cmd_unload(const UnloadOptions &o)
{
    require_root("unload");
    std::string name = looks_like_file(o.target) ? read_module(o.target).name : normalize_module_name(o.target);

    auto st = read_patch(name);
    if (!st) {
        if (module_loaded(name))
            throw Error(Exit::not_kp_patch, "module " + name + " is loaded but the kp core does not know it as a patch; it is not a kp patch, remove it with rmmod");
        throw Error(Exit::unknown_patch, "no kp patch named " + name + " is loaded; see kpctl list for the loaded patches");
    }

    auto deadline = deadline_after(o.timeout);
    if (st->enabled || st->transition != "idle") {
        std::vector<std::string> last_core;
        for (unsigned attempt = 1;; attempt++) {
            KmsgCursor log;
            int err = write_enabled(name, false);
            last_core = core_messages(log.read_new(), name);
            if (err == 0) {
                st = wait_settled(name, false, std::max(deadline, deadline_after(5)));
                if (st && !st->enabled && st->transition == "idle")
                    break;
                if (!st)
                    break;  // the core removed it already
                err = EBUSY;
            }
            if (err != EBUSY)
                throw Error(Exit::unload_failed, errno_text("cannot disable patch " + name, err) +
                            "; the patch is still in force; check the kernel log (dmesg)");
            auto now = read_patch(name);
            auto who = blockers(now ? now->blocked : std::vector<std::string>{}, last_core);
            if (Clock::now() >= deadline) {
                std::cerr << "kpctl: tasks blocking the removal of patch " << name << " at the last attempt:\n";
                for (const auto &l : who)
                    std::cerr << "  " << l << "\n";
                throw Error(Exit::busy, "patch " + name + " is still in force: tasks were inside its functions for " +
                            std::to_string(attempt) + " attempt(s) until the timeout; retry later or with a longer --timeout");
            }
            std::string summary = blocker_summary(who);
            progress("attempt " + std::to_string(attempt) + ": disabling busy" +
                     (summary.empty() ? "" : " (" + summary + ")") + "; retrying for " +
                     std::to_string(static_cast<int>(seconds_left(deadline) + 0.5)) + " s more");
            nap(deadline, 1000);
        }
    }

    auto remove_deadline = std::max(deadline, deadline_after(5));
    for (;;) {
        int err = remove_module(name);
        if (err == 0 || err == ENOENT)
            break;
        if ((err != EAGAIN && err != EBUSY) || Clock::now() >= remove_deadline)
            throw Error(Exit::unload_failed, errno_text("patch " + name + " is disabled but the module cannot be removed", err) +
                        "; retry kpctl unload " + name + " later");
        nap(remove_deadline, 100);
    }
    std::cout << "kpctl: patch " << name << " disabled and removed\n";
    return Exit::ok;
}

}  // namespace kpctl
