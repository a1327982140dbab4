#include "cli.h"

#include <iostream>
#include <sstream>

#include "paths.h"
#include "records/patch_records.h"

namespace kp::ctl {

namespace {

std::string exit_codes_text()
{
	std::ostringstream s;
	s << "Exit status:\n";
	for (int c = 0; c <= static_cast<int>(last_exit); c++)
		s << "  " << (c < 10 ? " " : "") << c << "  " << exit_name(static_cast<Exit>(c))
		  << "\n";
	return s.str();
}

void add_timeout(CLI::App *cmd, double &timeout, const char *help)
{
	cmd->add_option("--timeout", timeout, help)->check(CLI::NonNegativeNumber);
}

constexpr const char *transition_timeout_help =
        "seconds the transition may take before the core reverses it (default 60)";

} // namespace

CommandLine::CommandLine()
    : app_("kpctl: load, unload and inspect kp live patches of the running kernel")
{
	app_.footer(exit_codes_text());
	app_.require_subcommand(1);
	add_load();
	add_unload();
	add_canary();
	add_reports();
	add_install();
}

void CommandLine::add_load()
{
	auto *c = load_cmd_ =
	        app_.add_subcommand("load", "load a patch module and wait until it is in force");
	auto *file = c->add_option("FILE", load_.file, "patch module (.ko)");
	auto *all = c->add_flag("--all", load_all_,
	                        "load every patch installed for the running kernel (kpctl "
	                        "install), in their order, skipping those rolled back before");
	file->excludes(all);
	c->add_flag("--boot", load_all_opts_.boot,
	            "with --all: the boot unit's run, which kp.enable=0 on the kernel command "
	            "line turns off")
	        ->needs(all);
	add_timeout(c, load_.timeout, transition_timeout_help);
	c->add_option("--core", load_.core, "kp_core.ko to load if the core is not loaded");
	c->add_option("--probation", load_.probation.seconds,
	              "seconds the core watches the patch for faults after it switched "
	              "on, and rolls it back on one (0: none; default the core's, 30)");
	c->add_option("--check", load_.probation.check,
	              "shell command run during the probation; the patch is rolled back "
	              "when it fails (kpctl waits until the probation ends)");
	c->add_option("--check-interval", load_.probation.check_interval,
	              "seconds between two runs of the --check command (default 1)")
	        ->check(CLI::PositiveNumber);
	c->add_option("--canary", load_.canary,
	              "start as a canary: only these processes (and the tasks they create) "
	              "run the new code until kpctl promote or abort; SELECTOR is pid:PID "
	              "or cgroup:PATH (its processes now), several separated by commas")
	        ->type_name("SELECTOR")
	        // One value per --canary: FILE, optional since --all, must not be taken
	        // as a second selector.
	        ->allow_extra_args(false);
	c->add_option("--check-timeout", load_.probation.check_timeout,
	              "seconds one run of the --check command may take; a run still going "
	              "then is killed and counts as failed (default 10)")
	        ->check(CLI::PositiveNumber);
	c->add_flag("--force", load_.force,
	            "load a patch that was rolled back before (forget the rollback)");
	c->add_option("--rollback-on", load_.rollback_on,
	              "fault kinds that also roll the patch back during its probation, "
	              "comma-separated: warn (a WARN in its code), stack (its code anywhere "
	              "on the faulting or stuck stack); by default only a fault whose IP is "
	              "in its code, or a lockup at the top of the stuck stack")
	        ->type_name("KINDS")
	        ->check([](const std::string &s) {
		        return kp::records::parse_rollback_kinds(s)
		                       ? std::string()
		                       : "unknown fault kind in '" + s + "' (warn, stack)";
	        });
	c->add_option("--on-timeout", load_.on_timeout,
	              "what the enable does when tasks stay inside the replaced functions "
	              "past --timeout: pending (the new code stays live for every other "
	              "task, the stragglers get fake signals and switch when they leave) "
	              "or reverse (back to the old code for every task; kpctl removes the "
	              "module); default the patch's record, else pending")
	        ->type_name("MODE")
	        ->check(CLI::IsMember({"pending", "reverse"}));
	c->add_flag("--keep-replaced", load_.keep_replaced,
	            "a replace patch: leave the patches it replaced loaded (disabled) instead "
	            "of removing their modules");
	c->footer(exit_codes_text());
	auto *k = confirm_cmd_ = app_.add_subcommand(
	        "confirm", "confirm a rollback that a task other than root triggered: refuse "
	                   "the module from now on, also after a reboot");
	k->add_option("TARGET", confirm_.target, "patch name or module build ID")->required();
	k->footer(exit_codes_text());
}

void CommandLine::add_install()
{
	auto *c = install_cmd_ = app_.add_subcommand(
	        "install", "keep a patch module (and its kp_core.ko) for its kernel release, "
	                   "for kpctl load --all at boot");
	c->add_option("FILE", install_.file, "patch module (.ko)")->required();
	c->add_option("--core", install_.core,
	              "the kp_core.ko it was built with (default: $KP_CORE, else kp_core.ko "
	              "beside FILE)");
	c->add_option("--release", install_.release,
	              "kernel release to install it for (default: the running kernel's)");
	c->footer(exit_codes_text());
	auto *u = uninstall_cmd_ =
	        app_.add_subcommand("uninstall", "forget an installed patch (loads nothing, "
	                                         "unloads nothing)");
	u->add_option("NAME", uninstall_name_, "patch name")->required();
	u->add_option("--release", uninstall_release_,
	              "kernel release (default: the running kernel's)");
	u->footer(exit_codes_text());
}

void CommandLine::add_unload()
{
	auto *c = unload_cmd_ =
	        app_.add_subcommand("unload", "disable a patch safely and remove its module");
	c->add_option("TARGET", unload_.target, "patch name or its .ko file")->required();
	add_timeout(c, unload_.timeout, transition_timeout_help);
	c->footer(exit_codes_text());
}

void CommandLine::add_canary()
{
	auto *p = promote_cmd_ = app_.add_subcommand(
	        "promote", "switch every task to a patch in canary, under the normal rules");
	p->add_option("NAME", promote_.name, "patch name")->required();
	add_timeout(p, promote_.timeout, transition_timeout_help);
	p->footer(exit_codes_text());
	auto *a = abort_cmd_ = app_.add_subcommand(
	        "abort", "return the tasks of a canary to the old code and remove the patch");
	a->add_option("NAME", abort_.name, "patch name")->required();
	add_timeout(a, abort_.timeout,
	            "seconds kpctl follows the abort (the core never reverses it)");
	a->footer(exit_codes_text());
}

void CommandLine::add_reports()
{
	auto *s = status_cmd_ =
	        app_.add_subcommand("status", "state of loaded patches (from /sys/kernel/kp)");
	s->add_option("NAME", status_name_, "one patch");
	s->add_flag("--json", status_json_, "JSON output");
	auto *l = list_cmd_ = app_.add_subcommand("list", "loaded and installed patches");
	l->add_option("--dir", list_dir_,
	              std::string("folder of installed patches (default ") +
	                      paths::installed_patches("$(uname -r)") + ")");
	l->add_flag("--json", list_json_, "JSON output");
	auto *inst = l->add_flag("--installed", list_installed_,
	                         "the patches kpctl install keeps for a release, in load order");
	l->add_option("--release", list_release_,
	              "with --installed: kernel release (default: the running kernel's)")
	        ->needs(inst);
	auto *i = info_cmd_ =
	        app_.add_subcommand("info", "what a patch module contains, read from the file");
	i->add_option("FILE", info_file_, "patch module (.ko)")->required();
	i->add_flag("--json", info_json_, "JSON output");
}

std::optional<int> CommandLine::parse(int argc, char **argv)
{
	try {
		app_.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app_.exit(e);
	} catch (const CLI::CallForAllHelp &e) {
		return app_.exit(e);
	} catch (const CLI::ParseError &e) {
		std::cerr << "kpctl: error: " << e.what() << "; see kpctl --help\n";
		return static_cast<int>(Exit::usage);
	}
	return std::nullopt;
}

Exit CommandLine::run() const
{
	auto given = [](const CLI::App *cmd, const char *opt, const std::string &value) {
		return cmd->count(opt) ? std::optional(value) : std::nullopt;
	};
	if (load_cmd_->parsed() && load_all_) {
		LoadAllOptions o = load_all_opts_;
		o.timeout = load_.timeout;
		return cmd_load_all(o);
	}
	if (load_cmd_->parsed()) {
		if (load_.file.empty())
			throw Error(Exit::usage,
			            "load needs FILE.ko or --all; see kpctl load --help");
		return cmd_load(load_);
	}
	if (install_cmd_->parsed())
		return cmd_install(install_);
	if (uninstall_cmd_->parsed())
		return cmd_uninstall(uninstall_name_, uninstall_release_);
	if (list_cmd_->parsed() && list_installed_)
		return cmd_list_installed(list_release_, list_json_);
	if (confirm_cmd_->parsed())
		return cmd_confirm(confirm_);
	if (unload_cmd_->parsed())
		return cmd_unload(unload_);
	if (promote_cmd_->parsed())
		return cmd_promote(promote_);
	if (abort_cmd_->parsed())
		return cmd_abort(abort_);
	if (status_cmd_->parsed())
		return cmd_status(given(status_cmd_, "NAME", status_name_), status_json_);
	if (list_cmd_->parsed())
		return cmd_list(given(list_cmd_, "--dir", list_dir_), list_json_);
	if (info_cmd_->parsed())
		return cmd_info(info_file_, info_json_);
	return Exit::ok;
}

} // namespace kp::ctl
