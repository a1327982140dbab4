#include <iostream>

#include "commands/commands.h"
#include "memory.h"

namespace kp::ctl {

// Root confirms a rollback that a task other than root triggered (issue 25): until then
// the core and kpctl keep it on record but refuse nothing.
Exit cmd_confirm(const ConfirmOptions &o)
{
	require_root("confirm");
	auto r = confirm_rolled_back(o.target);
	if (!r)
		throw Error(Exit::unknown_patch,
		            "the core remembers no rollback of " + o.target +
		                    " (a patch name or module build ID); see kpctl status");
	std::cout << "kpctl: rollback of " << r->name << " (module build ID " << r->build_id
	          << ") confirmed: the module is refused from now on (kpctl load --force "
	             "forgets it): "
	          << r->why << "\n";
	return Exit::ok;
}

} // namespace kp::ctl
