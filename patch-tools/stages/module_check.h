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
	size_t values = 0;    // kp_value_rec records (KP_TRANSFER_VALUE)
	size_t syms = 0;
	size_t relocs = 0;
	std::vector<std::string> undefined;
};

ModuleFacts read_module_facts(const std::string &ko);

// Names exported in a Module.symvers file.
std::set<std::string> read_symvers(const std::string &path);

// Throws Error naming the problem: undefined symbols neither exported by vmlinux (the tree's
// Module.symvers) nor by kp_core, neither kp_funcs nor kp_values records, wrong build ID or
// release, vermagic of another kernel.
ModuleFacts check_module(const std::string &ko, const std::string &tree_symvers,
                         const std::string &core_symvers, const std::string &build_id,
                         const std::string &release);

// MODVERSIONS: each symbol the module's __versions names must carry the CRC the kernel's
// image has for it (vmlinux's __crc_<name>, the __kcrctab entry the loader compares with);
// the loader refuses a mismatch ("disagrees about version of symbol"), kp-build first.
// Symbols vmlinux does not export (kp_core's) are checked by modpost against the core's
// Module.symvers. A vmlinux without __crc_ symbols (no MODVERSIONS) checks nothing.
// The image is read once for all of @kos. Returns how many entries were checked; throws
// Error naming the first mismatch.
size_t check_versions(const std::vector<std::string> &kos, const std::string &vmlinux);

} // namespace kp::build
