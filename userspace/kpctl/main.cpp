// kpctl: load, unload and inspect kp live patches on the running kernel.
#include <CLI/CLI.hpp>

#include <iostream>
#include <sstream>

#include "commands/commands.h"

namespace {

std::string exit_codes_text()
{
	using kp::ctl::Exit;
	std::ostringstream s;
	s << "Exit status:\n";
	for (int c = 0; c <= static_cast<int>(Exit::rolled_back); c++)
		s << "  " << (c < 10 ? " " : "") << c << "  "
		  << kp::ctl::exit_name(static_cast<Exit>(c)) << "\n";
	return s.str();
}

} // namespace

int main(int argc, char **argv)
{
	using kp::ctl::Exit;
	CLI::App app{"kpctl: load, unload and inspect kp live patches of the running kernel"};
	app.footer(exit_codes_text());
	app.require_subcommand(1);

	kp::ctl::LoadOptions load;
	auto *c_load =
	        app.add_subcommand("load", "load a patch module and wait until it is in force");
	c_load->add_option("FILE", load.file, "patch module (.ko)")->required();
	c_load->add_option(
	              "--timeout", load.timeout,
	              "seconds the transition may take before the core reverses it (default 60)")
	        ->check(CLI::NonNegativeNumber);
	c_load->add_option("--core", load.core, "kp_core.ko to load if the core is not loaded");
	c_load->add_option("--probation", load.probation.seconds,
	                   "seconds the core watches the patch for faults after it switched "
	                   "on, and rolls it back on one (0: none; default the core's, 30)");
	c_load->add_option("--check", load.probation.check,
	                   "shell command run during the probation; the patch is rolled back "
	                   "when it fails (kpctl waits until the probation ends)");
	c_load->add_option("--check-interval", load.probation.check_interval,
	                   "seconds between two runs of the --check command (default 1)")
	        ->check(CLI::PositiveNumber);
	c_load->add_option("--canary", load.canary,
	                   "start as a canary: only these processes (and the tasks they create) "
	                   "run the new code until kpctl promote or abort; SELECTOR is pid:PID "
	                   "or cgroup:PATH (its processes now), several separated by commas")
	        ->type_name("SELECTOR");
	c_load->add_option("--check-timeout", load.probation.check_timeout,
	                   "seconds one run of the --check command may take; a run still going "
	                   "then is killed and counts as failed (default 10)")
	        ->check(CLI::PositiveNumber);
	c_load->add_flag("--force", load.force,
	                 "load a patch that was rolled back before (forget the rollback)");

	kp::ctl::UnloadOptions unload;
	auto *c_unload =
	        app.add_subcommand("unload", "disable a patch safely and remove its module");
	c_unload->add_option("TARGET", unload.target, "patch name or its .ko file")->required();
	c_unload->add_option(
	                "--timeout", unload.timeout,
	                "seconds the transition may take before the core reverses it (default 60)")
	        ->check(CLI::NonNegativeNumber);

	kp::ctl::CanaryOptions promote, abort;
	auto *c_promote = app.add_subcommand(
	        "promote", "switch every task to a patch in canary, under the normal rules");
	c_promote->add_option("NAME", promote.name, "patch name")->required();
	c_promote
	        ->add_option("--timeout", promote.timeout,
	                     "seconds the transition may take before the core reverses it "
	                     "(default 60)")
	        ->check(CLI::NonNegativeNumber);
	auto *c_abort = app.add_subcommand(
	        "abort", "return the tasks of a canary to the old code and remove the patch");
	c_abort->add_option("NAME", abort.name, "patch name")->required();
	c_abort->add_option("--timeout", abort.timeout,
	                    "seconds kpctl follows the abort (the core never reverses it)")
	        ->check(CLI::NonNegativeNumber);

	c_load->footer(exit_codes_text());
	c_promote->footer(exit_codes_text());
	c_abort->footer(exit_codes_text());
	c_unload->footer(exit_codes_text());

	std::string status_name;
	bool status_json = false;
	auto *c_status =
	        app.add_subcommand("status", "state of loaded patches (from /sys/kernel/kp)");
	c_status->add_option("NAME", status_name, "one patch");
	c_status->add_flag("--json", status_json, "JSON output");

	std::string list_dir;
	bool list_json = false;
	auto *c_list = app.add_subcommand("list", "loaded and installed patches");
	c_list->add_option("--dir", list_dir,
	                   "folder of installed patches (default /lib/modules/$(uname -r)/kp)");
	c_list->add_flag("--json", list_json, "JSON output");

	std::string info_file;
	bool info_json = false;
	auto *c_info =
	        app.add_subcommand("info", "what a patch module contains, read from the file");
	c_info->add_option("FILE", info_file, "patch module (.ko)")->required();
	c_info->add_flag("--json", info_json, "JSON output");

	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForAllHelp &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		std::cerr << "kpctl: error: " << e.what() << "; see kpctl --help\n";
		return static_cast<int>(Exit::usage);
	}

	try {
		Exit r = Exit::ok;
		if (c_load->parsed())
			r = kp::ctl::cmd_load(load);
		else if (c_unload->parsed())
			r = kp::ctl::cmd_unload(unload);
		else if (c_promote->parsed())
			r = kp::ctl::cmd_promote(promote);
		else if (c_abort->parsed())
			r = kp::ctl::cmd_abort(abort);
		else if (c_status->parsed())
			r = kp::ctl::cmd_status(c_status->count("NAME") ? std::optional(status_name)
			                                                : std::nullopt,
			                        status_json);
		else if (c_list->parsed())
			r = kp::ctl::cmd_list(c_list->count("--dir") ? std::optional(list_dir)
			                                             : std::nullopt,
			                      list_json);
		else if (c_info->parsed())
			r = kp::ctl::cmd_info(info_file, info_json);
		return static_cast<int>(r);
	} catch (const kp::ctl::Error &e) {
		std::cerr << "kpctl: error: " << e.what() << "\n";
		return static_cast<int>(e.code());
	} catch (const std::exception &e) {
		std::cerr << "kpctl: error: " << e.what() << "\n";
		return static_cast<int>(Exit::internal);
	}
}
