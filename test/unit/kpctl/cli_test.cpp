// The kpctl binary: argument errors, exit codes, one-line errors, JSON shapes.
// Nothing here loads a module on the host: every load/unload below is refused
// before any module is touched (wrong kernel, not a patch, not root, unknown name).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <set>

#include "fixtures.h"

using namespace kp::ctl::test;
using nlohmann::json;

namespace {

std::set<std::string> keys(const json &j)
{
	std::set<std::string> k;
	for (auto it = j.begin(); it != j.end(); ++it)
		k.insert(it.key());
	return k;
}

// An error: the expected status and exactly one "kpctl: error: " line on stderr.
void expect_error(const Result &r, int status, const std::string &mentions = "")
{
	EXPECT_EQ(r.status, status) << r.err;
	auto lines = r.err_lines();
	ASSERT_EQ(lines.size(), 1u) << r.err;
	EXPECT_EQ(lines[0].rfind("kpctl: error: ", 0), 0u) << lines[0];
	if (!mentions.empty()) {
		EXPECT_NE(lines[0].find(mentions), std::string::npos) << lines[0];
	}
	EXPECT_EQ(r.out, "");
}

// A fake sysfs tree: three patches, one settled after a reversal, one in transition.
fs::path fake_sysfs()
{
	fs::path s = scratch_dir("sysfs");
	fs::path kp = s / "kernel/kp";
	write_file(kp / "kp_a/enabled", "1\n");
	write_file(kp / "kp_a/transition", "idle\n");
	write_file(kp / "kp_a/blocked", "");
	write_file(kp / "kp_a/build_id", "136bea46\n");
	write_file(kp / "kp_a/values", "vmlinux overflowuid,0 4 kept 0xfffe -> 0xfffd\n");
	write_file(kp / "kp_a/vmlinux/cmdline_proc_show,0/old_addr", "0xffffffff81234560\n");
	write_file(kp / "kp_a/vmlinux/cmdline_proc_show,0/new_addr", "0xffffffffc0001000\n");
	write_file(kp / "kp_a/fuse/fuse_dev_read,2/old_addr", "0\n");
	write_file(kp / "kp_a/fuse/fuse_dev_read,2/new_addr", "0xffffffffc0001100\n");
	write_file(kp / "kp_b/enabled", "0\n");
	write_file(kp / "kp_b/transition", "idle\n");
	write_file(kp / "kp_b/blocked",
	           "77 kp_busy kp_busy_loop+0x1c/0x60\n78 kp_busy2 kp_busy_loop+0x20/0x60\n");
	write_file(kp / "kp_b/build_id", "136bea46\n");
	write_file(kp / "kp_t/enabled", "1\n");
	write_file(kp / "kp_t/transition", "enabling\n");
	write_file(kp / "kp_t/transition_ms", "1520\n");
	write_file(kp / "kp_t/pending", "1\n");
	write_file(kp / "kp_t/pending_tasks", "81 cat pipe_read+0x1d2/0x4a0\n");
	write_file(kp / "kp_t/timeout", "60\n");
	write_file(kp / "kp_t/on_timeout", "pending\n");
	write_file(kp / "kp_t/stalled", "0\n");
	write_file(kp / "kp_t/force", "0\n");
	write_file(kp / "kp_t/blocked", "");
	write_file(kp / "kp_t/build_id", "136bea46\n");
	write_file(s / "module/kp_core/initstate", "live\n");
	return s;
}

} // namespace

TEST(Cli, HelpListsEveryExitCode)
{
	Result r = kpctl({"--help"});
	EXPECT_EQ(r.status, 0);
	for (const char *s :
	     {"load", "unload", "status", "list", "info", " 0  ok", " 3  not root",
	      " 7  built for another kernel", "12  transition blocked until timeout",
	      "14  patch unload failed", "15  module file not root-only", "16  patch rolled back"})
		EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

TEST(Cli, UsageErrorsExit2)
{
	expect_error(kpctl({}), 2);
	expect_error(kpctl({"frobnicate"}), 2);
	expect_error(kpctl({"load"}), 2, "FILE");
	expect_error(kpctl({"load", "x.ko", "--timeout", "-1"}), 2);
	expect_error(kpctl({"load", "x.ko", "--timeout", "soon"}), 2);
	expect_error(kpctl({"load", "x.ko", "--check", "true", "--check-timeout", "0"}), 2,
	             "--check-timeout");
	expect_error(kpctl({"load", "x.ko", "--check", "true", "--check-timeout", "-3"}), 2,
	             "--check-timeout");
	expect_error(kpctl({"info", "a.ko", "b.ko"}), 2);
	expect_error(kpctl({"status", "--bogus"}), 2);
}

TEST(Cli, InfoTextAndExitCodes)
{
	KPCTL_NEED_FIXTURES();
	Result r = kpctl({"info", fixtures().patch_ko.string()});
	EXPECT_EQ(r.status, 0) << r.err;
	for (const std::string &s : std::vector<std::string>{
	             "name:     kpctl_fixture", "build ID " + test_kernel_build_id(),
	             "vmlinux cmdline_proc_show,0  old size 0x3c  -> fixture_cmdline_show",
	             "fuse fuse_dev_read,2  old size 0x120", "expected at jiffies_64+0x100",
	             "fix-one.diff  sha256 1111", "_printk"})
		EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
	expect_error(kpctl({"info", "/nonexistent/kp.ko"}), 4, "/nonexistent/kp.ko");
	expect_error(kpctl({"info", "/bin/sh"}), 5);
	expect_error(kpctl({"info", fixtures().plain_ko.string()}), 6, "not a kp patch");
}

TEST(Cli, InfoJsonShape)
{
	KPCTL_NEED_FIXTURES();
	Result r = kpctl({"info", "--json", fixtures().patch_ko.string()});
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	EXPECT_EQ(keys(j), (std::set<std::string>{"file",
	                                          "name",
	                                          "kp_patch",
	                                          "abi_version",
	                                          "vermagic",
	                                          "target",
	                                          "matches_running_kernel",
	                                          "sources",
	                                          "functions",
	                                          "symbols",
	                                          "relocations",
	                                          "callbacks",
	                                          "states",
	                                          "shadow_ids",
	                                          "values",
	                                          "rollback_on",
	                                          "on_timeout",
	                                          "replace",
	                                          "set",
	                                          "undefined"}));
	EXPECT_EQ(j["name"], "kpctl_fixture");
	EXPECT_EQ(j["target"]["release"], test_kernel_release());
	EXPECT_EQ(j["target"]["build_id"], test_kernel_build_id());
	ASSERT_EQ(j["functions"].size(), 2u);
	EXPECT_EQ(keys(j["functions"][0]),
	          (std::set<std::string>{"object", "function", "sympos", "old_size", "new_function",
	                                 "new_size"}));
	EXPECT_EQ(j["functions"][1]["function"], "fuse_dev_read");
	EXPECT_EQ(j["functions"][1]["sympos"], 2);
	EXPECT_EQ(j["functions"][1]["old_size"], 0x120);
	EXPECT_EQ(keys(j["symbols"][0]),
	          (std::set<std::string>{"object", "symbol", "sympos", "expected"}));
	EXPECT_EQ(j["symbols"][0]["expected"], "jiffies_64+0x100");
	EXPECT_EQ(keys(j["relocations"][0]),
	          (std::set<std::string>{"dest", "object", "symbol", "sympos", "addend", "type"}));
	EXPECT_EQ(j["relocations"][0]["addend"], -4);
	EXPECT_EQ(keys(j["sources"][0]), (std::set<std::string>{"file", "sha256"}));
	// The fake running kernel's notes decide matches_running_kernel.
	Result other = kpctl({"info", "--json", fixtures().wrong_id_ko.string()});
	ASSERT_EQ(other.status, 0);
	EXPECT_EQ(json::parse(other.out)["matches_running_kernel"], false);
}

TEST(Cli, LoadAndUnloadNeedRoot)
{
	KPCTL_NEED_FIXTURES();
	if (geteuid() == 0 && system("setpriv --version >/dev/null 2>&1") != 0)
		GTEST_SKIP() << "running as root without setpriv to drop privileges";
	expect_error(kpctl({"load", fixtures().patch_ko.string()}, {}, true), 3, "root");
	expect_error(kpctl({"unload", "kpctl_fixture"}, {}, true), 3, "root");
}

TEST(Cli, LoadRefusesBadFilesBeforeTouchingTheKernel)
{
	KPCTL_NEED_FIXTURES();
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root to get past the root check";
	fs::path d = scratch_dir("load-bad");
	write_file(d / "text.ko", "not ELF");
	expect_error(kpctl({"load", (d / "missing.ko").string()}), 4);
	// FILE after a --canary selector is the file, not a second selector.
	expect_error(kpctl({"load", "--canary", "pid:1", (d / "missing.ko").string()}), 4,
	             "missing.ko");
	expect_error(kpctl({"load", (d / "text.ko").string()}), 5);
	expect_error(kpctl({"load", fixtures().patch_o.string()}), 5);
	expect_error(kpctl({"load", fixtures().plain_ko.string()}), 6);
	// A build ID no kernel has: refused as built for another kernel.
	expect_error(kpctl({"load", fixtures().wrong_id_ko.string()}), 7,
	             "0000000000000000000000000000000000000000");
	EXPECT_FALSE(fs::exists("/sys/module/kpctl_fixture"));
	// Against a fake sysfs whose notes carry the fixture's build ID, the release
	// (uname -r of this host) still differs from the fixture's vermagic.  Only where
	// the host does not run that release: there kpctl would go on to load it.
	struct utsname u;
	ASSERT_EQ(uname(&u), 0);
	if (test_kernel_release() == u.release)
		GTEST_SKIP() << "host runs the test kernel release itself";
	std::string notes;
	std::string id = test_kernel_build_id();
	std::string raw;
	for (size_t i = 0; i + 1 < id.size(); i += 2)
		raw += static_cast<char>(std::stoi(id.substr(i, 2), nullptr, 16));
	uint32_t hdr[3] = {4, static_cast<uint32_t>(raw.size()), 3};
	notes.append(reinterpret_cast<const char *>(hdr), sizeof(hdr));
	notes.append("GNU\0", 4);
	notes += raw;
	fs::path s = scratch_dir("sys-same-id");
	write_file(s / "kernel/notes", notes);
	Result r = kpctl({"load", fixtures().patch_ko.string()}, {{"KPCTL_SYSFS", s.string()}});
	expect_error(r, 7, "release");
}

TEST(Cli, UnloadUnknownName)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root to get past the root check";
	fs::path s = fake_sysfs();
	expect_error(kpctl({"unload", "kp_nonexistent_patch"}, {{"KPCTL_SYSFS", s.string()}}), 9,
	             "kp_nonexistent_patch");
	expect_error(kpctl({"unload", "/nonexistent/kp.ko"}, {{"KPCTL_SYSFS", s.string()}}), 4);
	// A loaded module the core does not list is not a patch: refused, not rmmod'ed.
	write_file(s / "module/some_driver/initstate", "live\n");
	expect_error(kpctl({"unload", "some-driver"}, {{"KPCTL_SYSFS", s.string()}}), 6, "rmmod");
}

TEST(Cli, StatusFromSysfs)
{
	fs::path s = fake_sysfs();
	Result r = kpctl({"status", "--json"}, {{"KPCTL_SYSFS", s.string()}});
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	EXPECT_EQ(keys(j), (std::set<std::string>{"core_loaded", "patches", "rolled_back"}));
	EXPECT_EQ(j["core_loaded"], true);
	ASSERT_EQ(j["patches"].size(), 3u);
	const json &a = j["patches"][0];
	EXPECT_EQ(keys(a), (std::set<std::string>{
	                           "name",      "enabled",        "transition",  "transition_ms",
	                           "pending",   "timeout",        "forced",      "blocked",
	                           "build_id",  "probation_left", "rolled_back", "functions",
	                           "callbacks", "states",         "shadow_ids",  "canary",
	                           "values",    "on_timeout",     "stalled",     "replace",
	                           "set",       "replaced",       "replaced_by"}));
	EXPECT_EQ(a["name"], "kp_a");
	EXPECT_EQ(a["values"], json::array({"vmlinux overflowuid,0 4 kept 0xfffe -> 0xfffd"}));
	EXPECT_EQ(a["enabled"], true);
	ASSERT_EQ(a["functions"].size(), 2u);
	EXPECT_EQ(a["functions"][0]["object"], "fuse");
	EXPECT_EQ(a["functions"][0]["sympos"], 2);
	EXPECT_EQ(a["functions"][1]["function"], "cmdline_proc_show");
	EXPECT_EQ(a["functions"][1]["old_addr"], "0xffffffff81234560");
	EXPECT_EQ(j["patches"][1]["enabled"], false);
	EXPECT_EQ(j["patches"][1]["blocked"].size(), 2u);
	const json &t = j["patches"][2];
	EXPECT_EQ(t["transition"], "enabling");
	EXPECT_EQ(t["transition_ms"], 1520);
	EXPECT_EQ(t["pending"], json::array({"81 cat pipe_read+0x1d2/0x4a0"}));
	EXPECT_EQ(t["timeout"], 60);
	EXPECT_EQ(t["on_timeout"], "pending");
	EXPECT_EQ(t["stalled"], false);
	EXPECT_EQ(t["forced"], false);

	Result tr = kpctl({"status", "kp_t"}, {{"KPCTL_SYSFS", s.string()}});
	ASSERT_EQ(tr.status, 0);
	// The first line leads with the transition (issue 17); "of N" counts the host's tasks.
	EXPECT_TRUE(std::regex_search(
	        tr.out,
	        std::regex("^kp_t: enabling, 1 of [0-9]+ tasks not switched yet \\(cat 81 in "
	                   "pipe_read\\), stays pending in 59 s\n"
	                   "  enabling for 1520 ms, stays pending after 60 s; not switched yet:\n"
	                   "    81 cat pipe_read\\+0x1d2/0x4a0\n")))
	        << tr.out;

	Result one = kpctl({"status", "kp_b"}, {{"KPCTL_SYSFS", s.string()}});
	ASSERT_EQ(one.status, 0);
	EXPECT_EQ(one.out.rfind("kp_b: disabled\n", 0), 0u) << one.out;
	EXPECT_NE(one.out.find("77 kp_busy kp_busy_loop+0x1c/0x60"), std::string::npos) << one.out;
	EXPECT_EQ(one.out.find("kp_a"), std::string::npos);
	expect_error(kpctl({"status", "kp_c"}, {{"KPCTL_SYSFS", s.string()}}), 9, "kp_c");
}

// Probation (issue 16): a rolled-back patch and the core's memory, shown by status and
// list and copied to kpctl's file.
TEST(Cli, StatusShowsRolledBack)
{
	fs::path s = fake_sysfs();
	fs::path state = scratch_dir("state");
	fs::path kp = s / "kernel/kp";
	write_file(kp / "kp_a/probation", "12\n");
	write_file(kp / "kp_b/rolled_back", "WARN at kp_f+0x10/0x20 [kp_b], task 7 cat, "
	                                    "2026-11-30T07:00:00Z, 5 ms into probation\n");
	write_file(kp / "rolled_back",
	           "beef01 kp_b confirmed WARN at kp_f+0x10/0x20 [kp_b], task 7 cat, "
	           "2026-11-30T07:00:00Z, 5 ms into probation\n"
	           "beef02 kp_c unconfirmed page fault at kp_g+0x1/0x20 [kp_c], task 8 cat uid "
	           "65534, 2026-11-30T07:00:00Z, 5 ms into probation\n");
	std::map<std::string, std::string> env{{"KPCTL_SYSFS", s.string()},
	                                       {"KPCTL_STATE_DIR", state.string()}};
	Result r = kpctl({"status", "--json"}, env);
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	EXPECT_EQ(j["patches"][0]["probation_left"], 12);
	EXPECT_EQ(j["patches"][0]["rolled_back"], nullptr);
	EXPECT_EQ(j["patches"][1]["rolled_back"].get<std::string>().rfind("WARN at kp_f+0x10", 0),
	          0u);
	ASSERT_EQ(j["rolled_back"].size(), 2u);
	EXPECT_EQ(j["rolled_back"][0]["module_build_id"], "beef01");
	EXPECT_EQ(j["rolled_back"][0]["name"], "kp_b");
	EXPECT_EQ(j["rolled_back"][0]["confirmed"], true);
	EXPECT_EQ(j["rolled_back"][1]["name"], "kp_c");
	EXPECT_EQ(j["rolled_back"][1]["confirmed"], false);
	Result t = kpctl({"status"}, env);
	EXPECT_NE(t.out.find("kp_c (module build ID beef02): page fault at kp_g+0x1/0x20 [kp_c], "
	                     "task 8 cat uid 65534, 2026-11-30T07:00:00Z, 5 ms into probation "
	                     "[unconfirmed: not refused until root runs kpctl confirm kp_c]"),
	          std::string::npos)
	        << t.out;
	EXPECT_NE(t.out.find("  on probation: 12 s left\n"), std::string::npos) << t.out;
	EXPECT_NE(t.out.find("  ROLLED BACK by probation: WARN at kp_f+0x10/0x20 [kp_b]"),
	          std::string::npos)
	        << t.out;
	EXPECT_NE(t.out.find("rolled back (refused unless loaded with --force):\n  kp_b (module "
	                     "build ID beef01): WARN at"),
	          std::string::npos)
	        << t.out;
	// The core's confirmed memory is kept on disk, and listed from there once the core
	// forgot it; an unconfirmed rollback (issue 25) stays off the disk until confirmed.
	EXPECT_EQ(read_file(state / "rolled-back").rfind("beef01 kp_b WARN at kp_f+0x10", 0), 0u);
	EXPECT_EQ(read_file(state / "rolled-back").find("beef02"), std::string::npos);
	Result c = kpctl({"confirm", "kp_c"}, env);
	ASSERT_EQ(c.status, 0) << c.err;
	EXPECT_EQ(read_file(kp / "rolled_back"), "confirm beef02\n");
	EXPECT_NE(read_file(state / "rolled-back").find("beef02 kp_c page fault at kp_g"),
	          std::string::npos);
	EXPECT_EQ(kpctl({"confirm", "kp_none"}, env).status, 9);
	write_file(kp / "rolled_back", "");
	Result l = kpctl({"list", "--json", "--dir", state.string()}, env);
	ASSERT_EQ(l.status, 0) << l.err;
	json lj = json::parse(l.out);
	ASSERT_EQ(lj["rolled_back"].size(), 2u);
	EXPECT_EQ(lj["rolled_back"][0]["name"], "kp_b");
	EXPECT_EQ(lj["loaded"][1]["rolled_back"].get<std::string>().rfind("WARN", 0), 0u);
}

// Only well-formed lines of the core's memory are kept (issue 25): a line a task name
// split (the core escapes names now), a name that is no module's, a cause with a
// control character.
TEST(Cli, RolledBackKeepsOnlyWellFormedLines)
{
	fs::path s = fake_sysfs();
	fs::path state = scratch_dir("state-wf");
	fs::path kp = s / "kernel/kp";
	write_file(
	        kp / "rolled_back",
	        "beef01 kp_b confirmed WARN at kp_f+0x10/0x20 [kp_b], task 7 x\n"
	        "uid 0, 2026-11-30T07:00:00Z confirmed 5 ms into probation\n"
	        "beef02 ../kp_c confirmed page fault, 5 ms into probation\n"
	        "beef03 kp_d confirmed page fault\x01, 5 ms into probation\n"
	        "beef0 kp_e confirmed page fault, 5 ms into probation\n"
	        "beef04 kp_f confirmed\n"
	        "beef05 kp_g confirmed page fault at kp_g+0x1/0x20 [kp_g], task 8 a\\x0ab uid 0, "
	        "2026-11-30T07:00:00Z, 5 ms into probation\n");
	std::map<std::string, std::string> env{{"KPCTL_SYSFS", s.string()},
	                                       {"KPCTL_STATE_DIR", state.string()}};
	Result r = kpctl({"status", "--json"}, env);
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	ASSERT_EQ(j["rolled_back"].size(), 2u) << r.out;
	EXPECT_EQ(j["rolled_back"][0]["module_build_id"], "beef01");
	EXPECT_EQ(j["rolled_back"][0]["why"], "WARN at kp_f+0x10/0x20 [kp_b], task 7 x");
	EXPECT_EQ(j["rolled_back"][1]["module_build_id"], "beef05");
	std::string disk = read_file(state / "rolled-back");
	EXPECT_EQ(std::count(disk.begin(), disk.end(), '\n'), 2) << disk;
	EXPECT_EQ(disk.rfind("beef01 kp_b WARN at", 0), 0u) << disk;
}

TEST(Cli, StatusWithoutCore)
{
	fs::path s = scratch_dir("sys-empty");
	fs::create_directories(s / "kernel");
	// Its own state folder: the host's /var/lib/kp may remember rolled-back patches.
	std::map<std::string, std::string> env = {
	        {"KPCTL_SYSFS", s.string()},
	        {"KPCTL_STATE_DIR", scratch_dir("state-empty").string()}};
	Result r = kpctl({"status", "--json"}, env);
	ASSERT_EQ(r.status, 0);
	EXPECT_EQ(json::parse(r.out),
	          json::parse(R"({"core_loaded": false, "patches": [], "rolled_back": []})"));
	Result t = kpctl({"status"}, env);
	EXPECT_NE(t.out.find("core module kp_core not loaded"), std::string::npos);
}

TEST(Cli, ListLoadedAndInstalled)
{
	KPCTL_NEED_FIXTURES();
	fs::path s = fake_sysfs();
	fs::path dir = scratch_dir("installed");
	fs::copy_file(fixtures().patch_ko, dir / "kpctl_fixture.ko");
	fs::copy_file(fixtures().plain_ko, dir / "kpctl_plain.ko");
	write_file(dir / "notes.txt", "ignored: not a .ko");
	Result r = kpctl({"list", "--json", "--dir", dir.string()}, {{"KPCTL_SYSFS", s.string()}});
	ASSERT_EQ(r.status, 0) << r.err;
	json j = json::parse(r.out);
	EXPECT_EQ(keys(j), (std::set<std::string>{"dir", "loaded", "installed", "rolled_back"}));
	ASSERT_EQ(j["loaded"].size(), 3u);
	EXPECT_EQ(j["loaded"][2]["transition"], "enabling");
	EXPECT_EQ(
	        keys(j["loaded"][0]),
	        (std::set<std::string>{"name", "enabled", "transition", "functions", "rolled_back",
	                               "replace", "set", "replaced", "replaced_by"}));
	EXPECT_EQ(j["loaded"][0]["functions"], 2);
	ASSERT_EQ(j["installed"].size(), 2u);
	const json &fx = j["installed"][0];
	EXPECT_EQ(keys(fx), (std::set<std::string>{"file", "name", "loaded", "target_release",
	                                           "target_build_id", "matches_running_kernel",
	                                           "functions", "rolled_back", "error"}));
	EXPECT_EQ(fx["name"], "kpctl_fixture");
	EXPECT_EQ(fx["loaded"], false);
	EXPECT_EQ(fx["error"], nullptr);
	EXPECT_EQ(keys(j["installed"][1]), (std::set<std::string>{"file", "error"}));
	EXPECT_NE(j["installed"][1]["error"].get<std::string>().find("not a kp patch"),
	          std::string::npos);

	expect_error(kpctl({"list", "--dir", (dir / "nope").string()}), 4, "--dir");
}
