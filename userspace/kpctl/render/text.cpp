#include "render/text.h"

#include <iomanip>

#include "render/status_text.h"

namespace kp::ctl {

namespace {

void print_lines(std::ostream &o, const char *indent, const std::vector<std::string> &lines)
{
	for (const auto &l : lines)
		o << indent << l << "\n";
}

// Callbacks, states, shadow variable ids and transferred values of a loaded patch.
void print_patch_state_transfer(std::ostream &o, const PatchState &p)
{
	if (!p.values.empty()) {
		o << "  transferred values (" << p.values.size() << "):\n";
		print_lines(o, "    ", p.values);
	}
	if (p.callbacks.empty() && p.states.empty() && p.shadow_ids.empty())
		return;
	o << "  callbacks (" << p.callbacks.size() << "):\n";
	print_lines(o, "    ", p.callbacks);
	o << "  states (" << p.states.size() << "):\n";
	for (const auto &s : p.states)
		o << "    id " << s.substr(0, s.find(' ')) << " version "
		  << s.substr(s.find(' ') + 1) << "\n";
	o << "  shadow variable ids (" << p.shadow_ids.size() << "):\n";
	print_lines(o, "    ", p.shadow_ids);
}

// "set S" or "the default set".
std::string set_text(const std::string &set)
{
	return set.empty() ? "the default set" : "set " + set;
}

std::string joined_names(const std::vector<std::string> &names)
{
	std::string s;
	for (const auto &n : names)
		s += (s.empty() ? "" : ", ") + n;
	return s;
}

// Replace (issue 27): which patch replaced which.
void print_patch_replace(std::ostream &o, const PatchState &p)
{
	if (!p.replaced_by.empty())
		o << "  REPLACED by " << p.replaced_by
		  << ": disabled, its module removable (kpctl unload " << p.name << ")\n";
	if (p.replace)
		o << "  replace patch of " << set_text(p.set)
		  << (p.replaced.empty() ? "" : "; replaced " + joined_names(p.replaced)) << "\n";
	else if (!p.set.empty())
		o << "  in " << set_text(p.set) << "\n";
}

void print_patch(std::ostream &o, const PatchState &p, unsigned total_tasks)
{
	bool moving = p.transition != "idle" && p.transition != "canary";
	o << status_headline(p, moving ? total_tasks : 0) << "\n";
	if (moving) {
		o << "  " << p.transition << " for " << p.transition_ms << " ms, "
		  << (p.stalled ? "pending past its " : timeout_outcome(p) + " after ") << p.timeout
		  << " s" << (p.stalled ? " timeout" : "")
		  << (p.pending.empty() ? "\n" : "; not switched yet:\n");
		print_lines(o, "    ", p.pending);
	}
	if (p.transition == "canary") {
		o << "  canary tasks (and the tasks they create) on the new code:\n";
		print_lines(o, "    ", p.canary);
	}
	print_patch_replace(o, p);
	if (!p.rolled_back.empty())
		o << "  ROLLED BACK by probation: " << p.rolled_back << "\n";
	else if (p.probation_left)
		o << "  on probation: " << p.probation_left << " s left\n";
	if (!p.rollback_on.empty())
		o << "  rolled back on: the fault in its code, and " << p.rollback_on << "\n";
	if (!p.on_timeout.empty())
		o << "  on timeout: " << p.on_timeout << "\n";
	o << "  build ID " << p.build_id << "\n";
	o << "  functions (" << p.funcs.size() << "):\n";
	for (const auto &f : p.funcs)
		o << "    " << f.object << " " << f.function << "," << f.sympos << "  old "
		  << f.old_addr << "  new " << f.new_addr << "\n";
	print_patch_state_transfer(o, p);
	if (!p.blocked.empty()) {
		o << "  blocked by (last transition that timed out and reversed):\n";
		print_lines(o, "    ", p.blocked);
	}
}

void print_installed(std::ostream &o, const InstalledPatch &i)
{
	if (!i.info) {
		o << "  " << i.file << "  unusable: " << i.error << "\n";
		return;
	}
	const auto &match = i.matches_running_kernel;
	o << "  " << i.info->name << "  " << i.file << "  " << (i.loaded ? "loaded" : "not loaded")
	  << "  "
	  << (!match   ? "target unknown"
	      : *match ? "for this kernel"
	               : "for another kernel")
	  << (i.rolled_back ? "  ROLLED BACK before" : "") << "\n";
}

// Callbacks, states and shadow variable ids (issue 15) of a module file.
void print_module_state_transfer(std::ostream &o, const ModuleInfo &m)
{
	o << "callbacks (" << m.callbacks.size() << "):\n";
	for (const auto &c : m.callbacks) {
		o << "  " << c.object;
		const std::pair<const char *, const Pointer *> kinds[] = {
		        {"pre_patch", &c.pre_patch},
		        {"post_patch", &c.post_patch},
		        {"pre_unpatch", &c.pre_unpatch},
		        {"post_unpatch", &c.post_unpatch}};
		for (const auto &[kind, ptr] : kinds)
			if (ptr->kind != Pointer::Kind::null)
				o << "  " << kind << "=" << ptr->describe();
		o << "\n";
	}
	o << "states (" << m.states.size() << "):\n";
	for (const auto &s : m.states)
		o << "  id " << s.id << " version " << s.version << "\n";
	o << "shadow variable ids declared (" << m.shadows.size() << "):\n";
	for (const auto &s : m.shadows)
		o << "  id " << s.id << "  dtor " << s.dtor.describe() << "\n";
	std::string kinds = records::rollback_kinds_text(m.rollback_on);
	o << "rolled back on: the fault in its code" << (kinds.empty() ? "" : ", and " + kinds)
	  << "\n";
	o << "on timeout: "
	  << (m.on_timeout ? records::on_timeout_text(m.on_timeout) : "pending (the default)")
	  << "\n";
	o << "transferred values (" << m.values.size() << "):\n";
	for (const auto &v : m.values)
		o << "  " << v.object << " " << v.variable << "," << v.sympos << "  "
		  << v.old_value.size() << " bytes  " << records::value_text(v.old_value) << " -> "
		  << records::value_text(v.new_value) << "\n";
}

} // namespace

// One remembered rollback (status, or list: @listed): why, and for one no root task
// triggered, that it refuses nothing.
void print_rolled_back(std::ostream &o, const RolledBack &r, bool listed)
{
	if (listed)
		o << "  " << r.name << "  module build ID " << r.build_id << "  " << r.why;
	else
		o << "  " << r.name << " (module build ID " << r.build_id << "): " << r.why;
	if (!r.confirmed)
		o << " [unconfirmed: not refused until root runs kpctl confirm " << r.name << "]";
	o << "\n";
}

void print_status(std::ostream &o, const StatusView &v)
{
	if (v.patches.empty())
		o << (v.core_loaded ? "no kp patches loaded\n"
		                    : "no kp patches loaded (core module kp_core not loaded)\n");
	for (const auto &p : v.patches)
		print_patch(o, p, v.total_tasks);
	if (!v.one_patch && !v.rolled_back.empty()) {
		o << "rolled back (refused unless loaded with --force):\n";
		for (const auto &r : v.rolled_back)
			print_rolled_back(o, r, false);
	}
}

void print_list(std::ostream &o, const ListView &v)
{
	o << "loaded (" << v.loaded.size() << "):\n";
	for (const auto &p : v.loaded)
		o << "  " << p.name << "  " << (p.enabled ? "enabled" : "disabled")
		  << "  transition " << p.transition
		  << (p.transition == "canary"
		              ? " (" + std::to_string(p.canary.size()) + " task(s))"
		              : "")
		  << "  " << p.funcs.size() << " function(s)"
		  << (p.replace ? "  replaces " + set_text(p.set) : "")
		  << (p.replaced.empty() ? "" : " (replaced " + joined_names(p.replaced) + ")")
		  << (p.replaced_by.empty() ? "" : "  REPLACED by " + p.replaced_by)
		  << (p.rolled_back.empty() ? "" : "  ROLLED BACK") << "\n";
	o << "installed in " << v.dir << " (" << v.installed.size() << "):\n";
	for (const auto &i : v.installed)
		print_installed(o, i);
	o << "rolled back (" << v.rolled_back.size() << "):\n";
	for (const auto &r : v.rolled_back)
		print_rolled_back(o, r, true);
}

void print_info(std::ostream &o, const InfoView &v)
{
	const ModuleInfo &m = v.module;
	const auto &match = v.matches_running_kernel;
	o << "name:     " << m.name << "\n";
	o << "file:     " << m.path << "\n";
	o << "target:   release " << m.target_release << ", build ID " << m.target_build_id << "\n";
	o << "vermagic: " << m.vermagic << "\n";
	if (m.patch)
		o << "replace:  "
		  << (m.patch->replace ? "yes: replaces the enabled patches of "
		                       : "no (stacks); in ")
		  << set_text(m.patch->set) << "\n";
	o << "running kernel: "
	  << (!match   ? "unknown"
	      : *match ? "matches"
	               : "does NOT match")
	  << "\n";
	o << "sources (" << m.sources.size() << "):\n";
	for (const auto &s : m.sources)
		o << "  " << s.file << "  sha256 " << s.sha256 << "\n";
	o << "functions replaced (" << m.funcs.size() << "):\n";
	for (const auto &f : m.funcs)
		o << "  " << f.object << " " << f.function << "," << f.sympos << "  old size 0x"
		  << std::hex << f.old_size << std::dec << "  -> " << f.new_func.describe() << "\n";
	o << "symbols checked at load (kp_syms, " << m.syms.size() << "):\n";
	for (const auto &s : m.syms)
		o << "  " << s.object << " " << s.symbol << "," << s.sympos << "  expected at "
		  << s.expected.describe() << "\n";
	o << "relocations applied by the core (kp_relocs, " << m.relocs.size() << "):\n";
	for (const auto &r : m.relocs)
		o << "  " << r.object << " " << r.symbol << "," << r.sympos << "  " << r.type_name()
		  << " addend " << r.addend << " at " << r.dest.describe() << "\n";
	print_module_state_transfer(o, m);
	o << "undefined symbols (resolved by the module loader, " << m.undefined.size() << "):\n";
	print_lines(o, "  ", m.undefined);
}

} // namespace kp::ctl
