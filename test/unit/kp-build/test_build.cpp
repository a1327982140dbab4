// The patched build's helpers: the Makefiles a sparse copy needs, and the one-line reason
// kp-build gives when the sparse copy's build fails.
#include <gtest/gtest.h>

#include <filesystem>

#include "build.h"
#include "kit/kit.h"

using kp::kit::TempDir;
using kp::kit::write_file;

TEST(Build, MakefileIncludesFollowsKbuildsWayToTheObjects)
{
	TempDir t;
	// As arch/x86/entry/vdso/Makefile in 6.1: an include of lib/vdso/Makefile.
	write_file(t / "arch/x86/entry/vdso/Makefile",
	           "# SPDX\n# include $(srctree)/not/a/directive\n"
	           "include $(srctree)/lib/vdso/Makefile\n-include $(srctree)/missing/Makefile\n");
	// Nested: $(src) stays the directory Kbuild builds (arch/x86/entry/vdso).
	write_file(t / "lib/vdso/Makefile",
	           "include $(srctree)/lib/vdso/extra.mk\nsinclude $(src)/gen.mk\n");
	write_file(t / "lib/vdso/extra.mk", "X := 1\n");
	write_file(t / "arch/x86/entry/vdso/gen.mk", "Y := 1\n");
	write_file(t / "arch/x86/Kbuild", "include $(srctree)/arch/$(SRCARCH)/Makefile.x\n");
	write_file(t / "arch/Makefile", "include $(srctree)/virt/kvm/Makefile.kvm\n");
	write_file(t / "virt/kvm/Makefile.kvm", "");
	write_file(t / "fs/Makefile", "include $(srctree)/unused/Makefile\n");
	write_file(t / "unused/Makefile", "");
	auto found = kp::build::makefile_includes(t.path(), {"arch/x86/entry/vdso"});
	EXPECT_EQ(found,
	          (std::set<std::string>{"lib/vdso/Makefile", "lib/vdso/extra.mk",
	                                 "arch/x86/entry/vdso/gen.mk", "virt/kvm/Makefile.kvm"}));
	EXPECT_TRUE(kp::build::makefile_includes(t.path(), {"fs/proc"}).count("unused/Makefile"));
	EXPECT_TRUE(kp::build::makefile_includes(t.path(), {"mm"}).empty());
}

TEST(Build, FirstErrorLineOfAFailedBuild)
{
	std::string output =
	        "  CC      fs/proc/consoles.o\n"
	        "fs/proc/consoles.c:12:5: error: 'x' undeclared\n"
	        "make[2]: *** [scripts/Makefile.build:250: fs/proc/consoles.o] Error 1\n";
	std::string message =
	        "the patched sources do not compile (full compiler output in /w/log):\n" +
	        kp::build::compiler_errors(output);
	EXPECT_EQ(kp::build::first_error_line(message),
	          "fs/proc/consoles.c:12:5: error: 'x' undeclared");
	EXPECT_EQ(kp::build::first_error_line(
	                  "the patched build did not produce fs/x.o (log: /w/log)"),
	          "the patched build did not produce fs/x.o (log: /w/log)");
	EXPECT_EQ(kp::build::first_error_line(""), "");
}
