// kpctl's command line: the subcommands, their options and help text (CLI11), and the
// dispatch of a parsed command line to its command (commands/commands.h).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "commands/commands.h"

namespace kp::ctl {

class CommandLine {
public:
	CommandLine();
	CommandLine(const CommandLine &) = delete;
	CommandLine &operator=(const CommandLine &) = delete;

	// The exit status when kpctl must stop here (help printed: 0; a usage error,
	// said on stderr: Exit::usage); nullopt when a command is ready to run.
	std::optional<int> parse(int argc, char **argv);
	// Runs the parsed command.  Throws Error (or another exception) as the command does.
	Exit run() const;

private:
	void add_load();
	void add_unload();
	void add_canary();
	void add_reports();
	void add_install();

	CLI::App app_;
	LoadOptions load_;
	bool load_all_ = false;
	LoadAllOptions load_all_opts_;
	InstallOptions install_;
	std::string uninstall_name_, uninstall_release_, list_release_;
	bool list_installed_ = false;
	ConfirmOptions confirm_;
	UnloadOptions unload_;
	CanaryOptions promote_, abort_;
	std::string status_name_, list_dir_, info_file_;
	bool status_json_ = false, list_json_ = false, info_json_ = false;
	CLI::App *load_cmd_ = nullptr, *confirm_cmd_ = nullptr, *unload_cmd_ = nullptr,
	         *promote_cmd_ = nullptr, *abort_cmd_ = nullptr, *status_cmd_ = nullptr,
	         *list_cmd_ = nullptr, *info_cmd_ = nullptr, *install_cmd_ = nullptr,
	         *uninstall_cmd_ = nullptr;
};

} // namespace kp::ctl
