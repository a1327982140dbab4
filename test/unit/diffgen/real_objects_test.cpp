// Real objects of the test kernel, compiled with -ffunction-sections in kp-build's cache
// tree by real-objects.sh (build/linux-fs).  Skipped when that tree is not made.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "helpers.h"
#include "records/patch_records.h"

namespace fs = std::filesystem;
using Set = std::set<std::string>;

namespace {

fs::path tree()
{
	return fs::path(KP_BUILD_DIR) / "linux-fs";
}
fs::path running_vmlinux()
{
	return fs::path(KP_BUILD_DIR) / "linux" / "vmlinux";
}

bool have_tree()
{
	return fs::exists(tree() / "kernel/sys.o") &&
	       fs::exists(fs::path(KP_BUILD_DIR) / "linux-fs.stamp");
}

#define REQUIRE_TREE()                                                                             \
	do {                                                                                       \
		if (!have_tree())                                                                  \
			GTEST_SKIP() << tree()                                                     \
			             << " not built: run test/unit/diffgen/real-objects.sh (make " \
			                "check "                                                   \
			                "builds it first)";                                        \
	} while (0)

std::string read_file(const fs::path &p)
{
	std::ifstream in(p);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

void replace_all(std::string &s, const std::string &from, const std::string &to)
{
	for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
		s.replace(at, from.size(), to);
}

// Recompiles tree()/REL.c with @from replaced by @to into a temp dir, with the exact
// command line from its .cmd file; returns the patched object's path.
std::string build_patched(const std::string &rel, const std::string &from, const std::string &to)
{
	fs::path dir = kp::test::scratch_dir("real-" + fs::path(rel).filename().string());
	fs::path src = tree() / (rel + ".c");
	std::string text = read_file(src);
	size_t at = text.find(from);
	EXPECT_NE(at, std::string::npos) << from << " not in " << src;
	if (at == std::string::npos)
		return "";
	text.replace(at, from.size(), to);
	fs::path psrc = dir / fs::path(rel + ".c").filename();
	std::ofstream(psrc) << text;
	// What kp-build puts beside a patched source (KP_TRANSFER_VALUE's header).
	fs::path repo = fs::path(DIFFGEN_TEST_DIR).parent_path().parent_path().parent_path();
	fs::copy_file(repo / "kmod/patch/kp-value.h", dir / "kp-value.h");
	fs::copy_file(repo / "include/kp/abi.h", dir / "kp-abi.h");
	fs::path pobj = dir / fs::path(rel + ".o").filename();

	fs::path cmdfile = tree() / fs::path(rel).parent_path() /
	                   ("." + fs::path(rel).filename().string() + ".o.cmd");
	std::string cmd = read_file(cmdfile);
	cmd = cmd.substr(0, cmd.find('\n'));
	size_t eq = cmd.find(":=");
	EXPECT_NE(eq, std::string::npos) << cmdfile;
	cmd = cmd.substr(eq + 2);
	replace_all(cmd,
	            "-Wp,-MMD," + fs::path(rel).parent_path().string() + "/." +
	                    fs::path(rel).filename().string() + ".o.d",
	            "-Wp,-MMD," + (dir / "dep.d").string());
	replace_all(cmd, rel + ".o", pobj.string());
	replace_all(cmd, rel + ".c", psrc.string());
	// Quoted includes relative to the source directory.
	replace_all(cmd, " -c ", " -I" + (tree() / fs::path(rel).parent_path()).string() + " -c ");
	std::string out;
	int rc = kp::test::run_command("cd " + tree().string() + " && " + cmd, &out);
	EXPECT_EQ(rc, 0) << cmd << "\n" << out;
	return pobj.string();
}

// The module an object is built into, from Kbuild's record of its compilation ("" for
// vmlinux): module objects are compiled with -DMODULE -DKBUILD_MODNAME='"name"'.
std::string module_of(const std::string &rel)
{
	std::string cmd = read_file(tree() / fs::path(rel).parent_path() /
	                            ("." + fs::path(rel).filename().string() + ".o.cmd"));
	cmd = cmd.substr(0, cmd.find('\n'));
	const std::string key = "-DKBUILD_MODNAME='\"";
	auto p = cmd.find(key);
	if (cmd.find(" -DMODULE ") == std::string::npos || p == std::string::npos)
		return {};
	p += key.size();
	return cmd.substr(p, cmd.find('"', p) - p);
}

kp::diffgen::Result diff_real(const std::string &rel, const std::string &patched,
                              const std::string &out)
{
	kp::diffgen::Options opts;
	opts.symbols = running_vmlinux().string();
	if (std::string mod = module_of(rel); !mod.empty()) {
		opts.target = mod;
		opts.symbols = (fs::path(KP_BUILD_DIR) / "linux" / fs::path(rel).parent_path() /
		                (mod + ".ko"))
		                       .string();
	}
	return kp::diffgen::run((tree() / (rel + ".o")).string(), patched, out, opts);
}

} // namespace

TEST(DiffgenReal, CmdlineProcShow)
{
	REQUIRE_TREE();
	std::string patched = build_patched("fs/proc/cmdline", "seq_puts(m, saved_command_line);",
	                                    "seq_printf(m, \"%s kp\", saved_command_line);");
	ASSERT_FALSE(patched.empty());
	std::string out = (fs::path(patched).parent_path() / "out.o").string();
	auto r = diff_real("fs/proc/cmdline", patched, out);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = kp::test::read_output(out);
	EXPECT_EQ(o.defined_funcs, Set({"cmdline_proc_show"}));
	ASSERT_EQ(o.funcs.size(), 1u);
	EXPECT_EQ(o.funcs[0].name, "cmdline_proc_show");
	EXPECT_EQ(o.funcs[0].sympos, 0u);
	EXPECT_TRUE(o.undefined.count("seq_printf"));
	EXPECT_TRUE(o.undefined.count("saved_command_line"));
	// Special sections follow the function: ORC entries for it, one __mcount_loc record.
	EXPECT_EQ(o.section_sizes["__mcount_loc"], 8u);
	if (o.section_sizes.count(".orc_unwind_ip")) {
		EXPECT_EQ(o.section_sizes[".orc_unwind"] / 6,
		          o.section_sizes[".orc_unwind_ip"] / 4);
	}
}

TEST(DiffgenReal, KernelSysGetppid)
{
	REQUIRE_TREE();
	// A source edit that folds to the same code is no functional change.
	std::string patched = build_patched("kernel/sys", "\trcu_read_unlock();\n\n\treturn pid;",
	                                    "\trcu_read_unlock();\n\n\treturn pid + 0;");
	ASSERT_FALSE(patched.empty());
	std::string out = (fs::path(patched).parent_path() / "out.o").string();
	auto r = diff_real("kernel/sys", patched, out);
	EXPECT_EQ(r.failure, kp::ErrorKind::no_change) << kp::test::joined(r);

	patched = build_patched("kernel/sys", "SYSCALL_DEFINE0(getppid)\n{\n\tint pid;",
	                        "SYSCALL_DEFINE0(getppid)\n{\n\tint pid = 0;\n\tif (current->pid "
	                        "== 424242) return -1;");
	ASSERT_FALSE(patched.empty());
	r = diff_real("kernel/sys", patched, out);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = kp::test::read_output(out);
	EXPECT_TRUE(o.defined_funcs.count("__x64_sys_getppid"))
	        << ::testing::PrintToString(o.defined_funcs);
	// __do_sys_getppid is an alias of the same code: defined, but one replacement only.
	ASSERT_EQ(o.funcs.size(), 1u);
	EXPECT_EQ(o.funcs[0].name, "__x64_sys_getppid");
	for (const auto &f : o.defined_funcs)
		EXPECT_NE(f.find("getppid"), std::string::npos)
		        << "unrelated function emitted: " << f;
}

TEST(DiffgenReal, BugTableEntriesFollowTheFunction)
{
	REQUIRE_TREE();
	const std::string from =
	        "BUG_ON(*pos < 0);\n\n\ttsk = get_proc_task(file_inode(file));\n\tif "
	        "(!tsk)\n\t\treturn -ESRCH;";
	std::string patched =
	        build_patched("fs/proc/base", from,
	                      "BUG_ON(*pos < 0);\n\n\ttsk = get_proc_task(file_inode(file));\n\tif "
	                      "(!tsk)\n\t\treturn -ENOENT;");
	ASSERT_FALSE(patched.empty());
	std::string out = (fs::path(patched).parent_path() / "out.o").string();
	auto r = diff_real("fs/proc/base", patched, out);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = kp::test::read_output(out);
	EXPECT_EQ(o.defined_funcs, Set({"proc_pid_cmdline_read"}));
	// struct bug_entry of the test kernel (DWARF of vmlinux): relative pointers, 12 bytes.
	// Kept: the entries of this function only (its BUG_ON and the inlined ones).
	const auto *bt = o.obj->section("__bug_table");
	ASSERT_NE(bt, nullptr);
	ASSERT_GT(bt->size(), 0u);
	EXPECT_EQ(bt->size() % 12, 0u);
	auto orig = kp::test::load_object((tree() / "fs/proc/base.o").string());
	EXPECT_LT(bt->size(), orig->section("__bug_table")->size());
	for (uint64_t off = 0; off < bt->size(); off += 12) {
		auto [b, e] = bt->relocs_in(off, off + 12);
		ASSERT_NE(b, e);
		EXPECT_EQ(b->offset, off);
		EXPECT_EQ(b->sym->name, "proc_pid_cmdline_read");
	}
}

TEST(DiffgenReal, AlternativesFollowTheFunction)
{
	REQUIRE_TREE();
	std::string patched = build_patched("kernel/sys",
	                                    "if (!capable(CAP_SYS_RESOURCE))\n\t\treturn "
	                                    "-EPERM;\n\n\tif (opt == PR_SET_MM_EXE_FILE)",
	                                    "if (!capable(CAP_SYS_RESOURCE))\n\t\treturn "
	                                    "-EACCES;\n\n\tif (opt == PR_SET_MM_EXE_FILE)");
	ASSERT_FALSE(patched.empty());
	std::string out = (fs::path(patched).parent_path() / "out.o").string();
	auto r = diff_real("kernel/sys", patched, out);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	auto o = kp::test::read_output(out);
	EXPECT_EQ(o.defined_funcs, Set({"prctl_set_mm"}));
	// struct alt_instr (DWARF): every kept entry's instruction is in prctl_set_mm, its
	// replacement in the carried .altinstr_replacement.
	const auto *alt = o.obj->section(".altinstructions");
	ASSERT_NE(alt, nullptr);
	ASSERT_NE(o.obj->section(".altinstr_replacement"), nullptr);
	ASSERT_GE(alt->relocs.size(), 2u);
	EXPECT_EQ(alt->relocs[0].offset, 0u);
	EXPECT_EQ(alt->relocs[0].sym->name, "prctl_set_mm");
	EXPECT_EQ(alt->relocs[1].sym->name, ".altinstr_replacement");
	// Two relocations per entry: the kept entries have the original entry size.
	auto orig = kp::test::load_object((tree() / "kernel/sys.o").string());
	const auto *oalt = orig->section(".altinstructions");
	ASSERT_NE(oalt, nullptr);
	uint64_t entsize = oalt->size() / (oalt->relocs.size() / 2);
	EXPECT_EQ(alt->size(), entsize * (alt->relocs.size() / 2));
	EXPECT_LE(alt->size(), oalt->size());
}

// The end-to-end patch catalogue (test/integration/patches): each .c-only patch applied
// to copies of its files and rebuilt; "-FAIL" patches must be refused (2) or found
// without functional change (3), the others must give a patch object (0).
TEST(DiffgenReal, IntegrationPatchCatalogue)
{
	REQUIRE_TREE();
	fs::path patches = fs::path(DIFFGEN_TEST_DIR) / ".." / ".." / "integration" / "patches";
	if (!fs::exists(patches))
		GTEST_SKIP() << patches << " not present";
	size_t tried = 0;
	for (auto it = fs::recursive_directory_iterator(patches);
	     it != fs::recursive_directory_iterator(); ++it) {
		if (it->path().extension() != ".patch")
			continue;
		std::string name = it->path().stem().string();
		std::string text = read_file(it->path());
		std::vector<std::string> files;
		std::istringstream lines(text);
		bool c_only = true;
		for (std::string line; std::getline(lines, line);) {
			if (line.rfind("+++ ", 0) != 0)
				continue;
			std::string f = line.substr(4, line.find_first_of(" \t", 4) - 4);
			if (f.rfind("b/", 0) == 0)
				f = f.substr(2);
			files.push_back(f);
			c_only &= f.size() > 2 && f.substr(f.size() - 2) == ".c";
		}
		if (!c_only || files.size() != 1)
			continue;
		std::string rel = files[0].substr(0, files[0].size() - 2);
		fs::path cmdfile = tree() / fs::path(rel).parent_path() /
		                   ("." + fs::path(rel).filename().string() + ".o.cmd");
		if (!fs::exists(cmdfile))
			continue; // not built in the test kernel's configuration
		ASSERT_TRUE(fs::exists(tree() / (rel + ".o")))
		        << name << ": real-objects.sh did not have kp-build compile " << rel
		        << ".o";
		// Apply to a copy, then rebuild through build_patched's command-line rewriting.
		fs::path dir = kp::test::scratch_dir("catalogue-" + name);
		fs::create_directories(dir / fs::path(files[0]).parent_path());
		fs::copy_file(tree() / files[0], dir / files[0]);
		std::string out;
		ASSERT_EQ(kp::test::run_command("patch -s -p1 -d " + dir.string() + " < " +
		                                        it->path().string(),
		                                &out),
		          0)
		        << name << ": " << out;
		std::string patched_src = read_file(dir / files[0]);
		std::string original = read_file(tree() / files[0]);
		std::string obj = build_patched(rel, original, patched_src);
		ASSERT_FALSE(obj.empty()) << name;
		auto r = diff_real(rel, obj, (fs::path(obj).parent_path() / "out.o").string());
		bool must_fail = name.find("-FAIL") != std::string::npos;
		if (must_fail)
			EXPECT_TRUE(r.failure == kp::ErrorKind::unsupported ||
			            r.failure == kp::ErrorKind::no_change)
			        << name << ": " << r.outcome() << "\n"
			        << kp::test::joined(r);
		else
			EXPECT_EQ(r.failure, std::nullopt) << name << "\n" << kp::test::joined(r);
		tried++;
	}
	EXPECT_GE(tried, 10u);
}

// Every object real-objects.sh had kp-build compile (about 300 of the 1,200 of the test
// kernel: kernel/, mm/, fs/proc/, a module, arch/x86 mm and entry code).
TEST(DiffgenReal, EveryObjectAgainstItselfIsNoChange)
{
	REQUIRE_TREE();
	size_t n = 0;
	std::vector<std::string> bad;
	for (auto it = fs::recursive_directory_iterator(tree());
	     it != fs::recursive_directory_iterator(); ++it) {
		const fs::path &p = it->path();
		std::string rel = fs::relative(p, tree()).string();
		if (it->is_directory() &&
		    (rel == "scripts" || rel == "tools" || rel == "Documentation" || rel == "usr" ||
		     // 16/32-bit code, not kernel objects of x86_64
		     rel == "arch/x86/realmode/rm" || rel == "arch/x86/boot" ||
		     rel == "arch/x86/entry/vdso/vdso32")) {
			it.disable_recursion_pending();
			continue;
		}
		if (!it->is_regular_file() || p.extension() != ".o" || rel == "vmlinux.o" ||
		    p.filename().string().find(".mod.o") != std::string::npos)
			continue;
		// Only the objects kp-build compiled in its cache (real-objects.sh's --prebuild):
		// the others of the copy are host programs' objects.
		fs::path record = p.parent_path() / ("." + p.filename().string() + ".cmd");
		std::string cmd = fs::exists(record) ? read_file(record) : "";
		if (cmd.substr(0, cmd.find('\n')).find("-ffunction-sections") == std::string::npos)
			continue;
		auto r = kp::diffgen::run(p.string(), p.string(), "/dev/null/never-written.o", {});
		n++;
		if (r.failure != kp::ErrorKind::no_change)
			bad.push_back(rel + ": " + r.outcome() + " " + kp::test::joined(r));
	}
	EXPECT_GT(n, 250u);
	EXPECT_TRUE(bad.empty()) << bad.size() << " of " << n << " objects, first: " << bad.front();
}

// KP_TRANSFER_VALUE on the test kernel's own kernel/sys.c: overflowuid's new initial value
// is carried in a kp_values record only when marked; the unmarked change stays refused.
TEST(DiffgenReal, TransferValueOfOverflowuid)
{
	REQUIRE_TREE();
	const std::string from = "int overflowuid = DEFAULT_OVERFLOWUID;";
	std::string patched = build_patched("kernel/sys", from, "int overflowuid = 65533;");
	ASSERT_FALSE(patched.empty());
	std::string out = (fs::path(patched).parent_path() / "out.o").string();
	auto r = diff_real("kernel/sys", patched, out);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("changed existing data: overflowuid"), std::string::npos)
	        << kp::test::joined(r);

	patched = build_patched("kernel/sys", from,
	                        "#include \"kp-value.h\"\nint overflowuid = 65533;\n"
	                        "KP_TRANSFER_VALUE(overflowuid);");
	ASSERT_FALSE(patched.empty());
	r = diff_real("kernel/sys", patched, out);
	ASSERT_EQ(r.failure, std::nullopt) << kp::test::joined(r);
	EXPECT_EQ(r.transferred, std::vector<std::string>{"overflowuid"});
	auto obj = kp::test::load_object(out);
	auto recs = kp::records::read_patch_records(*obj);
	ASSERT_TRUE(recs.has_value()) << recs.error().message();
	ASSERT_EQ(recs->values.size(), 1u);
	const auto &v = recs->values[0];
	EXPECT_EQ(v.object, "vmlinux");
	EXPECT_EQ(v.variable, "overflowuid");
	EXPECT_EQ(v.sympos, 0u);
	EXPECT_EQ(kp::records::value_text(v.old_value), "0xfffe");
	EXPECT_EQ(kp::records::value_text(v.new_value), "0xfffd");
	EXPECT_TRUE(recs->funcs.empty());

	// Marking one variable does not let another one change.
	patched = build_patched(
	        "kernel/sys", "int overflowgid = DEFAULT_OVERFLOWGID;",
	        "#include \"kp-value.h\"\nint overflowgid = 65533;\nint kp_unused_marker;\n"
	        "KP_TRANSFER_VALUE(kp_unused_marker);");
	ASSERT_FALSE(patched.empty());
	r = diff_real("kernel/sys", patched, out);
	EXPECT_EQ(r.failure, kp::ErrorKind::unsupported) << kp::test::joined(r);
	EXPECT_NE(kp::test::joined(r).find("changed existing data: overflowgid"), std::string::npos)
	        << kp::test::joined(r);
}
