#include "names.h"

#include <array>
#include <cctype>
#include <optional>

namespace kp::diffgen {

namespace {

bool all_digits(std::string_view s)
{
	if (s.empty())
		return false;
	for (char c : s)
		if (!std::isdigit(static_cast<unsigned char>(c)))
			return false;
	return true;
}

bool starts_with(std::string_view s, std::string_view p)
{
	return s.substr(0, p.size()) == p;
}

// Names the kernel's macros build from __COUNTER__ and __LINE__: a line added anywhere
// above renumbers them, so only the part without the numbers names the item.
//   __UNIQUE_ID_<prefix><N>                      (compiler-gcc.h, compiler.h)
//   __BTF_ID__<kind>__<name>__<counter><line>     (btf_ids.h BTF_ID, BTF_ID_FLAGS)
//   __initcall__<modname>__<counter>_<line>_<fn><id> and __initstub__... (init.h)
std::optional<std::string> macro_numbered(std::string_view name)
{
	auto strip_digits = [](std::string_view s, size_t min) {
		size_t end = s.size();
		while (end > min && std::isdigit(static_cast<unsigned char>(s[end - 1])))
			end--;
		return std::string(s.substr(0, end));
	};
	if (starts_with(name, "__UNIQUE_ID_"))
		return strip_digits(name, 12);
	if (starts_with(name, "__BTF_ID__")) {
		std::string head = strip_digits(name, 10);
		if (head.size() < name.size() && head.size() >= 12 &&
		    head.compare(head.size() - 2, 2, "__") == 0)
			return head;
		return std::nullopt;
	}
	for (std::string_view prefix : {"__initcall__", "__initstub__"}) {
		if (!starts_with(name, prefix))
			continue;
		// <modname>__<counter>_<line>_<rest>: the first "__" followed by two numbers.
		for (size_t at = name.find("__", prefix.size()); at != std::string_view::npos;
		     at = name.find("__", at + 1)) {
			size_t i = at + 2, counter = i;
			while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])))
				i++;
			if (i == counter || i >= name.size() || name[i] != '_')
				continue;
			size_t line = ++i;
			while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])))
				i++;
			if (i == line || i >= name.size() || name[i] != '_')
				continue;
			return std::string(name.substr(0, at + 2)) +
			       std::string(name.substr(i + 1));
		}
	}
	return std::nullopt;
}

} // namespace

std::string canonical_name(std::string_view name)
{
	if (auto c = macro_numbered(name))
		return *c;
	// Strip trailing ".NNN" unless it is the number of a clone suffix (".isra.0").
	size_t dot = name.rfind('.');
	if (dot != std::string_view::npos && dot > 0 && all_digits(name.substr(dot + 1))) {
		std::string_view head = name.substr(0, dot);
		for (std::string_view clone :
		     {".isra", ".part", ".constprop", ".lto_priv", ".llvm"})
			if (head.size() >= clone.size() &&
			    head.substr(head.size() - clone.size()) == clone)
				return std::string(name);
		return std::string(head);
	}
	return std::string(name);
}

bool is_special_static(std::string_view name, std::string_view section)
{
	if (section == ".data..once" || starts_with(section, ".data..once.") ||
	    section == ".data.once" || starts_with(section, ".data.once.") ||
	    section == "__dyndbg" || starts_with(section, "__dyndbg."))
		return true;
	std::string c = canonical_name(name);
	static constexpr std::array<std::string_view, 9> exact = {
	        "__key",  "__warned",     "__already_done", "__func__", "_rs",
	        "CSWTCH", "__print_once", "descriptor",     "__once",
	};
	for (auto e : exact)
		if (c == e)
			return true;
	return starts_with(c, "__UNIQUE_ID_ddebug") || starts_with(c, "__key.") ||
	       starts_with(c, "__warned.");
}

std::string clone_parent(std::string_view name)
{
	// Find the first clone marker; everything before it is the parent.
	size_t best = std::string_view::npos;
	for (std::string_view marker :
	     {".cold", ".part.", ".isra.", ".constprop.", ".localalias"}) {
		size_t p = name.find(marker);
		if (p != std::string_view::npos && p > 0 && p < best)
			best = p;
	}
	return best == std::string_view::npos ? std::string() : std::string(name.substr(0, best));
}

bool is_cold_part(std::string_view name)
{
	size_t p = name.rfind(".cold");
	if (p == std::string_view::npos || p == 0)
		return false;
	std::string_view rest = name.substr(p + 5);
	return rest.empty() || (rest[0] == '.' && all_digits(rest.substr(1)));
}

bool is_init_section(std::string_view s)
{
	return starts_with(s, ".init.") || starts_with(s, ".exit.") ||
	       starts_with(s, ".meminit.") || starts_with(s, ".head.text") || s == ".init";
}

bool is_line_helper(std::string_view name)
{
	static constexpr std::array<std::string_view, 14> helpers = {
	        "__might_sleep",
	        "__might_resched",
	        "__might_fault",
	        "__warn_printk",
	        "warn_slowpath_fmt",
	        "_printk",
	        "printk",
	        "__dynamic_pr_debug",
	        "__dynamic_dev_dbg",
	        "__dynamic_netdev_dbg",
	        "lockdep_rcu_suspicious",
	        "__cant_sleep",
	        "__cant_migrate",
	        "__WARN_printf",
	};
	for (auto h : helpers)
		if (name == h)
			return true;
	return starts_with(name, "__might_") || starts_with(name, "__warn");
}

} // namespace kp::diffgen
