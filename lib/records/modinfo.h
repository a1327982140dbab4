// .modinfo of a kernel module: NUL-separated key=value strings, in file order.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "elf/object.h"

namespace kp::records {

struct Modinfo {
	std::vector<std::pair<std::string, std::string>> entries; // in file order

	std::vector<std::string> values(const std::string &key) const;
	// The first value of @key, "" when absent.
	std::string first(const std::string &key) const;
};

// Empty when the object has no .modinfo.
Modinfo read_modinfo(const elf::Object &ko);

// The name in struct module (.gnu.linkonce.this_module, the allocated one the loader
// uses), "" when absent, empty or not NUL-terminated within MODULE_NAME_LEN.
std::string this_module_name(const elf::Object &ko);

} // namespace kp::records
