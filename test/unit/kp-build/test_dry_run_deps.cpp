#include <gtest/gtest.h>

#include <sstream>

#include "dry_run_deps.h"
#include "kit/kit.h"
#include "shell_words.h"

using kp::build::split_shell_line;

TEST(ShellWords, QuotesBackslashesAndOperators)
{
	auto l = split_shell_line(
	        R"(set -e; echo '  CC      a.o'; trap 'rm -f a.o; kill -s HUP $$' HUP; )"
	        R"(gcc -DX='"a b"' -DY=\"c\" "d;e" -c -o a.o a.c | sort && true > f)");
	ASSERT_TRUE(l.complete);
	ASSERT_EQ(l.commands.size(), 6u);
	EXPECT_EQ(l.commands[1], (kp::build::ShellCommand{"echo", "  CC      a.o"}));
	EXPECT_EQ(l.commands[2][1], "rm -f a.o; kill -s HUP $$") << "a ; inside quotes";
	const auto &gcc = l.commands[3];
	EXPECT_EQ(gcc[1], "-DX=\"a b\"");
	EXPECT_EQ(gcc[2], "-DY=\"c\"");
	EXPECT_EQ(gcc[3], "d;e");
	EXPECT_EQ(l.ended_by[3], "|");
	EXPECT_EQ(l.ended_by[4], "&&");
	EXPECT_EQ(l.commands[5], (kp::build::ShellCommand{"true", ">", "f"}));
	EXPECT_EQ(l.ended_by[5], "");
}

TEST(ShellWords, OpenQuoteDropsTheRest)
{
	auto l = split_shell_line("gcc -c -o a.o a.c; awk 'never closed");
	EXPECT_FALSE(l.complete);
	ASSERT_EQ(l.commands.size(), 2u);
	EXPECT_EQ(l.commands[0].back(), "a.c");
	EXPECT_EQ(l.commands[1], (kp::build::ShellCommand{"awk"}));
}

namespace {
// The shapes of Kbuild 6.1's recipes as `make -n` prints them (trimmed).
const char *kDryRun =
        "set -e;  echo '  CC      fs/proc/base.o'; trap 'rm -f fs/proc/base.o; trap - HUP' HUP; "
        "gcc-12 -Wp,-MMD,fs/proc/.base.o.d -nostdinc -I./include -DKBUILD_MODNAME='\"proc\"' "
        "-c -o fs/proc/base.o fs/proc/base.c   ; ./tools/objtool/objtool --orc fs/proc/base.o; "
        "scripts/basic/fixdep fs/proc/.base.o.d fs/proc/base.o 'gcc-12 -c -o fs/proc/base.o "
        "fs/proc/base.c' > fs/proc/.base.o.cmd\n"
        "set -e; trap 'rm -f fs/proc/cmdline.o; trap - HUP' HUP; \n"
        "set -e;  echo '  CC [M]  fs/fuse/dev.o'; gcc-12 -Wp,-MMD,fs/fuse/.dev.o.d -nostdinc "
        "-DMODULE -c -o fs/fuse/dev.o fs/fuse/dev.c\n"
        "set -e;  echo '  HOSTCC  scripts/mod/modpost.o'; gcc -Wp,-MMD,x.d -O2 -c -o "
        "scripts/mod/modpost.o scripts/mod/modpost.c\n"
        "set -e;  echo '  AR      fs/proc/built-in.a'; rm -f fs/proc/built-in.a;  printf "
        "\"fs/proc/%s \" base.o cmdline.o | xargs ar cDPrST fs/proc/built-in.a; printf '%s\\n' "
        "'cmd_fs/proc/built-in.a := rm -f fs/proc/built-in.a' > fs/proc/.built-in.a.cmd\n"
        "set -e;  echo '  AR      fs/built-in.a'; rm -f fs/built-in.a;  printf \"fs/%s \" "
        "proc/built-in.a open.o | xargs ar cDPrST fs/built-in.a\n"
        "set -e;  echo '  AR      lib/lib.a'; rm -f lib/lib.a; ar cDPrsT lib/lib.a lib/bug.o "
        "lib/ctype.o\n"
        "set -e;  echo '  AR      vmlinux.a'; rm -f vmlinux.a; ar cDPrST vmlinux.a ./built-in.a  "
        "lib/lib.a; ar mPiT $(ar t vmlinux.a | sed -n 1p) vmlinux.a\n"
        "set -e;  echo '  AR      built-in.a'; rm -f built-in.a;  printf \"./%s \" "
        "fs/built-in.a | xargs ar cDPrST built-in.a\n"
        "set -e;     trap 'rm -f fs/fuse/fuse.mod; trap - HUP' HUP; printf '%s\\n'   dev.o "
        "dir.o | awk '!x[$0]++ { print(\"fs/fuse/\"$0) }' > fs/fuse/fuse.mod; printf '%s\\n' "
        "'cmd_fs/fuse/fuse.mod := printf ...' > fs/fuse/.fuse.mod.cmd\n"
        "set -e;     printf '%s\\n'   ext-ops.o | awk '!x[$0]++ { print(\"drivers/x/\"$0) }' > "
        "drivers/x/my-mod.mod\n";
} // namespace

TEST(DryRun, CompilesArchivesAndModules)
{
	std::istringstream in(kDryRun);
	auto d = kp::build::parse_dry_run(in);
	EXPECT_TRUE(d.saw_vmlinux_archive);
	ASSERT_EQ(d.compiles.size(), 2u) << "kernel compiles only, not the host's";
	EXPECT_EQ(d.compiles[0].object, "fs/proc/base.o");
	EXPECT_EQ(d.compiles[0].source, "fs/proc/base.c");
	EXPECT_EQ(d.compiles[0].argv[0], "gcc-12");
	EXPECT_EQ(d.compiles[1].object, "fs/fuse/dev.o");
	EXPECT_EQ(d.vmlinux, (std::set<std::string>{"fs/proc/base.o", "fs/proc/cmdline.o",
	                                            "fs/open.o", "lib/bug.o", "lib/ctype.o"}));
	EXPECT_EQ(d.module_of.at("fs/fuse/dev.o"), "fuse");
	EXPECT_EQ(d.module_of.at("fs/fuse/dir.o"), "fuse");
	EXPECT_EQ(d.module_of.at("drivers/x/ext-ops.o"), "my_mod");
	EXPECT_EQ(d.module_of.size(), 3u);
}

TEST(DryRun, WithoutVmlinuxArchiveIsIncomplete)
{
	std::istringstream in("gcc-12 -nostdinc -c -o a.o a.c\n");
	EXPECT_FALSE(kp::build::parse_dry_run(in).saw_vmlinux_archive);
}

TEST(DryRun, DependencyCommandPreprocessesOnly)
{
	kp::build::KernelCompile c{"fs/proc/base.o",
	                           "fs/proc/base.c",
	                           {"gcc-12", "-Wp,-MMD,fs/proc/.base.o.d", "-nostdinc", "-O2",
	                            "-c", "-o", "fs/proc/base.o", "fs/proc/base.c"}};
	auto argv = kp::build::dependency_command(c, "/w/base.d");
	EXPECT_EQ(argv,
	          (std::vector<std::string>{"gcc-12", "-nostdinc", "-O2", "fs/proc/base.c", "-MM",
	                                    "-MG", "-MF", "/w/base.d", "-MT", "fs/proc/base.o"}));
}

TEST(DryRun, ParsesTheDependencyRule)
{
	auto d = kp::build::parse_make_rule("fs/proc/base.o: fs/proc/base.c \\\n"
	                                    " ./include/linux/kconfig.h \\\n"
	                                    " include/linux/../linux/types.h fs/proc/internal.h\n");
	EXPECT_EQ(d.object, "fs/proc/base.o");
	EXPECT_EQ(d.source, "fs/proc/base.c");
	EXPECT_EQ(d.deps,
	          (std::vector<std::string>{"include/linux/kconfig.h", "include/linux/types.h",
	                                    "fs/proc/internal.h"}));
}

// -MG names a header the unbuilt tree lacks as written, and what it includes stays unknown
// (the module signing parsers include asn1_compiler's x509.asn1.h, which includes
// linux/asn1_ber_bytecode.h): such a record is partial, for the caller to complete by
// building the object; the others come whole from the dependency pass.
TEST(DryRun, ObjectIncludingAGeneratedHeaderHasAPartialRecord)
{
	kp::kit::TempDir t;
	kp::kit::write_file(t / "a.c", "#include \"x509.asn1.h\"\nint a;\n");
	kp::kit::write_file(t / "b.c", "#include \"b.h\"\nint b;\n");
	kp::kit::write_file(t / "b.h", "#define B 1\n");
	kp::build::DryRun dry;
	for (const char *name : {"a", "b"})
		dry.compiles.push_back(
		        {std::string(name) + ".o",
		         std::string(name) + ".c",
		         {"gcc", "-c", "-o", std::string(name) + ".o", std::string(name) + ".c"}});
	dry.vmlinux = {"a.o", "b.o"};
	auto scan = kp::build::scan_dependencies(t.path(), dry, t / "scratch", 1, nullptr);
	EXPECT_TRUE(scan.failed.empty());
	EXPECT_TRUE(scan.generated.empty());
	EXPECT_EQ(scan.partial, std::vector<std::string>{"a.o"});
	ASSERT_EQ(scan.records.size(), 2u);
	EXPECT_EQ(scan.records[0].object, "a.o");
	EXPECT_EQ(scan.records[0].deps, std::vector<std::string>{"x509.asn1.h"});
	EXPECT_EQ(scan.records[1].object, "b.o");
	EXPECT_EQ(scan.records[1].deps, std::vector<std::string>{"b.h"});
}
