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
	const elf::Section *sec = ko.section(".modinfo");
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
	const elf::Section *sec = ko.section(".gnu.linkonce.this_module");
	// struct module starts with state (4 bytes, padded to 8) and a list_head (16).
	const size_t name_off = 24;
	if (!sec || sec->data.size() <= name_off)
		return {};
	auto b = sec->data.begin() + name_off;
	return std::string(b, std::find(b, sec->data.end(), '\0'));
}

} // namespace kp::records
