// Module check: the built patch module is loadable against the running kernel.
#pragma once
#include <set>
#include <string>
#include <vector>

namespace kp::build {

struct ModuleFacts {
	std::string vermagic;
	std::string build_id; // kp_target_build_id
	std::string release;  // kp_target_release
	size_t funcs = 0;     // kp_func_rec records
	size_t syms = 0;
	size_t relocs = 0;
	std::vector<std::string> undefined;
};

ModuleFacts read_module_facts(const std::string &ko);

// Names exported in a Module.symvers file.
std::set<std::string> read_symvers(const std::string &path);

// Throws Error naming the problem: undefined symbols neither exported by vmlinux (the tree's
// Module.symvers) nor by kp_core, no kp_funcs records, wrong build ID or release, vermagic
// of another kernel.
ModuleFacts check_module(const std::string &ko, const std::string &tree_symvers,
                         const std::string &core_symvers, const std::string &build_id,
                         const std::string &release);

} // namespace kp::build
