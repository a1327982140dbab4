#include "kernel_info.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "elf/object.h"
#include "error.h"
#include "process.h"
#include "support/files.h"

namespace kp::build {

std::unique_ptr<kp::elf::Object> open_image(const std::string &path)
{
	return take(kp::elf::Object::open(path, {.relocatable_only = false, .relocations = false}));
}

std::string image_build_id(const kp::elf::Object &image)
{
	std::string id = image.build_id();
	if (id.empty())
		throw Error(image.path() +
		            " has no GNU build ID: kp patches are bound to a build ID");
	return id;
}

std::string compiler_identity(const std::string &version_text)
{
	std::string s = version_text;
	if (s.rfind("GCC: ", 0) == 0)
		s = s.substr(5);
	auto paren = s.find('(');
	if (paren != std::string::npos)
		return s.substr(paren);
	auto sp = s.find(' ');
	return sp == std::string::npos ? s : s.substr(sp + 1);
}

KernelTree inspect_tree(const std::string &src, const std::string &vmlinux, Log *log)
{
	KernelTree t;
	std::error_code ec;
	auto real = std::filesystem::canonical(src, ec);
	if (ec)
		throw Error("source tree " + src + ": " + ec.message());
	t.src = real.string();
	if (!std::filesystem::exists(t.src + "/.config"))
		throw Error(t.src + " is not a configured kernel tree (no .config)");
	if (!std::filesystem::exists(t.src + "/Makefile") ||
	    !std::filesystem::exists(t.src + "/Kbuild"))
		throw Error(t.src + " is not a kernel source tree (no Makefile/Kbuild)");
	t.config_text = take(kp::support::read_text_file(t.src + "/.config"));
	std::string rel_path = t.src + "/include/config/kernel.release";
	if (!std::filesystem::exists(rel_path))
		throw Error(t.src +
		            " has not been built (no include/config/kernel.release): the running "
		            "kernel must be the one built from this tree with 'make'");
	t.release = take(kp::support::read_text_file(rel_path));
	while (!t.release.empty() && (t.release.back() == '\n' || t.release.back() == ' '))
		t.release.pop_back();

	t.config_compiler = config_value(t.config_text, "CONFIG_CC_VERSION_TEXT");

	t.vmlinux = vmlinux.empty() ? t.src + "/vmlinux" : vmlinux;
	if (!std::filesystem::exists(t.vmlinux))
		throw Error("no vmlinux at " + t.vmlinux + " (build the tree, or give --vmlinux)");
	{
		auto vm = open_image(t.vmlinux);
		t.build_id = image_build_id(*vm);
		if (const auto *comment = vm->section(".comment"))
			for (std::string_view s : comment->strings())
				if (s.starts_with("GCC: "))
					t.vmlinux_compiler = compiler_identity(std::string(s));
	}
	if (t.vmlinux_compiler.empty()) {
		// Fall back to the compiler recorded by the build (include/generated/compile.h).
		std::string ch = t.src + "/include/generated/compile.h";
		if (std::filesystem::exists(ch)) {
			std::string text = take(kp::support::read_text_file(ch));
			auto p = text.find("LINUX_COMPILER \"");
			if (p != std::string::npos) {
				auto s = text.substr(p + 16);
				s = s.substr(0, s.find_first_of(",\""));
				t.vmlinux_compiler = compiler_identity(s);
			}
		}
	}
	// The compiler Kbuild runs (CC := $(CROSS_COMPILE)gcc), found on PATH like make finds it.
	auto r = run_process({"gcc", "--version"}, {}, log);
	if (r.status == 0)
		t.host_compiler = r.output.substr(0, r.output.find('\n'));
	return t;
}

void check_compiler(const KernelTree &t)
{
	if (t.host_compiler.empty())
		throw Error("cannot run the compiler (gcc --version failed)");
	std::string host = compiler_identity(t.host_compiler);
	if (!t.vmlinux_compiler.empty() && host != t.vmlinux_compiler)
		throw Error(ErrorKind::refused,
		            "compiler differs from the one that built vmlinux: " + t.vmlinux +
		                    " was built by '" + t.vmlinux_compiler +
		                    "', this machine's compiler is '" + t.host_compiler + "'");
	if (!t.config_compiler.empty() && host != compiler_identity(t.config_compiler))
		throw Error(ErrorKind::refused,
		            "compiler differs from the one the tree was configured with: .config "
		            "has '" +
		                    t.config_compiler + "', this machine's compiler is '" +
		                    t.host_compiler + "'");
}

std::string config_value(const std::string &config_text, const std::string &name)
{
	std::istringstream in(config_text);
	std::string line, key = name + "=";
	while (std::getline(in, line))
		if (line.rfind(key, 0) == 0) {
			std::string v = line.substr(key.size());
			if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
				v = v.substr(1, v.size() - 2);
			return v;
		}
	return {};
}

std::vector<std::string> objtool_module_sections(const std::string &config_text)
{
	auto on = [&](const char *name) { return config_value(config_text, name) == "y"; };
	if (!on("CONFIG_OBJTOOL") || !(on("CONFIG_X86_KERNEL_IBT") || on("CONFIG_LTO_CLANG")))
		return {};
	std::vector<std::string> s{".orc_unwind",        ".orc_unwind_ip", ".retpoline_sites",
	                           ".return_sites",      ".call_sites",    ".ibt_endbr_seal",
	                           ".static_call_sites", ".cfi_sites"};
	if (on("CONFIG_FTRACE_MCOUNT_USE_OBJTOOL"))
		s.push_back("__mcount_loc");
	return s;
}

} // namespace kp::build
