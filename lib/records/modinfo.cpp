#include "records/modinfo.h"

#include <algorithm>

namespace kp::records {

std::vector<std::string> Modinfo::values(const std::string &key) const
{
	std::vector<std::string> out;
	for (const auto &[k, v] : entries)
		if (k == key)
			out.push_back(v);
	return out;
}

std::string Modinfo::first(const std::string &key) const
{
	for (const auto &[k, v] : entries)
		if (k == key)
			return v;
	return {};
}

Modinfo read_modinfo(const elf::Object &ko)
{
	Modinfo m;
	const elf::Section *sec = ko.loaded_section(".modinfo");
	if (!sec)
		return m;
	for (std::string_view s : sec->strings()) {
		auto eq = s.find('=');
		if (eq == std::string_view::npos)
			m.entries.emplace_back(std::string(s), "");
		else
			m.entries.emplace_back(std::string(s.substr(0, eq)),
			                       std::string(s.substr(eq + 1)));
	}
	return m;
}

std::string this_module_name(const elf::Object &ko)
{
	// The section the module loader uses; struct module starts with state (4 bytes,
	// padded to 8) and a list_head (16), then name[MODULE_NAME_LEN = 56].
	const elf::Section *sec = ko.loaded_section(".gnu.linkonce.this_module");
	const size_t name_off = 24, name_len = 56;
	if (!sec || sec->data.size() <= name_off)
		return {};
	auto b = sec->data.begin() + name_off;
	auto limit = sec->data.end() - b > static_cast<std::ptrdiff_t>(name_len) ? b + name_len
	                                                                         : sec->data.end();
	auto nul = std::find(b, limit, '\0');
	if (nul == limit)
		return {}; // unterminated: no name
	return std::string(b, nul);
}

} // namespace kp::records
