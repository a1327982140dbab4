// diffgen ORIG.o PATCHED.o -o OUT.o [--target vmlinux|MODULE] [--symbols FILE]
//         [--kernel FILE]... [--anchor] [--explain]
// Exit: 0 changed (OUT.o written), 1 error, 2 unsupported change, 3 no change.
#include <CLI/CLI.hpp>

#include <iostream>

#include "diffgen.h"

namespace {

// The one place diffgen's outcomes become exit codes (diffgen/README.md).
enum ExitCode { kChanged = 0, kError = 1, kUnsupported = 2, kNoChange = 3 };

int exit_code(const std::optional<kp::ErrorKind> &failure)
{
	if (!failure)
		return kChanged;
	switch (*failure) {
	case kp::ErrorKind::unsupported: return kUnsupported;
	case kp::ErrorKind::no_change: return kNoChange;
	default: return kError;
	}
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"diffgen: function-granularity ELF differ for kp patch modules"};
	std::string orig, patched, out;
	kp::diffgen::Options opts;
	app.add_option("ORIG", orig, "object built from the original source")->required();
	app.add_option("PATCHED", patched, "the same object built from the patched source")
	        ->required();
	app.add_option("-o,--output", out, "patch object to write")->required();
	app.add_option("--target", opts.target,
	               "object the patch applies to: vmlinux or a module name");
	app.add_option("--symbols", opts.symbols,
	               "target ELF (vmlinux or MODULE.ko) for sympos and exports");
	app.add_option("--kernel", opts.dwarf,
	               "ELF with kernel DWARF for special-section entry sizes (repeatable; "
	               "default: --symbols, then PATCHED)");
	app.add_flag("--explain", opts.explain, "print a human report of the changes");
	app.add_flag("--anchor", opts.anchor,
	             "reach non-exported vmlinux symbols through exported anchors (needs --symbols "
	             "vmlinux)");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int rc = app.exit(e);
		return rc == 0 ? 0 : kError;
	}
	auto res = kp::diffgen::run(orig, patched, out, opts);
	for (const auto &m : res.messages)
		std::cerr << "diffgen: " << m << "\n";
	if (opts.explain)
		std::cout << res.explanation;
	if (res.changed()) {
		std::cerr << "diffgen: " << out << ": " << res.replaced.size() << " replaced, "
		          << res.added.size() << " new function(s)";
		if (!res.transferred.empty())
			std::cerr << ", " << res.transferred.size() << " value(s) transferred";
		std::cerr << "\n";
	}
	return exit_code(res.failure);
}
