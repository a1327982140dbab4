// What kp-build learns about the user's tree and its running kernel (vmlinux).
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace kp::elf {
class Object;
}

namespace kp::build {

class Log;

struct KernelTree {
	std::string src;              // absolute, symlinks resolved
	std::string vmlinux;          // the running kernel's image
	std::string release;          // include/config/kernel.release
	std::string build_id;         // GNU build ID of vmlinux, hex
	std::string vmlinux_compiler; // "(Debian 12.2.0-14+deb12u1) 12.2.0" from vmlinux .comment
	std::string config_compiler;  // CONFIG_CC_VERSION_TEXT of .config
	std::string host_compiler;    // first line of `gcc --version`
	std::string config_text;      // .config
};

// Reads the tree (must have .config and include/config/kernel.release) and vmlinux (empty:
// <src>/vmlinux). Throws Error naming what is missing.
KernelTree inspect_tree(const std::string &src, const std::string &vmlinux, Log *log);

// A linked image (vmlinux, a .ko) read by lib/elf, sections and symbols, no relocations.
std::unique_ptr<kp::elf::Object> open_image(const std::string &path);

// The image's GNU build ID, hex: what a patch module is bound to (kp_target_build_id).
// Throws Error when it has none.
std::string image_build_id(const kp::elf::Object &image);

// The value of option @name ("CONFIG_X") in a .config, quotes removed; "" when unset.
std::string config_value(const std::string &config_text, const std::string &name);

// The special sections Kbuild's objtool run makes for a whole module when it runs on the
// module's pre-link object (delay-objtool: X86_KERNEL_IBT or LTO_CLANG in @config_text,
// scripts/Makefile.lib): return/call/retpoline sites, the ENDBR seal list, static call
// sites, ORC, and __mcount_loc when objtool makes it (FTRACE_MCOUNT_USE_OBJTOOL).  Empty
// when objtool runs per object (6.1's configs): then each object carries its own.
std::vector<std::string> objtool_module_sections(const std::string &config_text);

// Refuses when this machine's gcc is not the compiler that built vmlinux.
void check_compiler(const KernelTree &tree);

// "gcc (Debian 12.2.0-14) 12.2.0" / "GCC: (Debian 12.2.0-14) 12.2.0" -> "(Debian 12.2.0-14) 12.2.0"
std::string compiler_identity(const std::string &version_text);

} // namespace kp::build
