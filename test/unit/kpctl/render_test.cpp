// render/: the text and JSON of `kpctl status`, `list` and `info` from gathered views,
// without a kernel (docs/kpctl.md is the contract).
#include <gtest/gtest.h>

#include <sstream>

#include "render/json.h"
#include "render/text.h"

using namespace kp::ctl;

namespace {

PatchState patch(const std::string &name, const std::string &transition)
{
	PatchState p;
	p.name = name;
	p.enabled = true;
	p.transition = transition;
	p.build_id = "136bea46";
	p.funcs.push_back(
	        {"vmlinux", "cmdline_proc_show", 0, "0xffffffff81234560", "0xffffffffc0001000"});
	return p;
}

ModuleInfo module(const std::string &name, const std::string &build_id)
{
	ModuleInfo m;
	m.path = "/lib/modules/6.1.0/kp/" + name + ".ko";
	m.name = name;
	m.build_id = build_id;
	m.vermagic = "6.1.0 SMP mod_unload";
	m.target_release = "6.1.0";
	m.target_build_id = "aabb";
	m.funcs.push_back({"vmlinux", "cmdline_proc_show", 0, 0x40, 0x20, {}});
	m.undefined = {"printk"};
	return m;
}

ListView list_view()
{
	ListView v;
	v.dir = "/lib/modules/6.1.0/kp";
	PatchState c = patch("kp_c", "canary");
	c.canary = {"12 sh", "13 cat"};
	c.rolled_back = "oops";
	v.loaded = {patch("kp_a", "idle"), c};
	v.installed.push_back({"/lib/modules/6.1.0/kp/bad.ko", std::nullopt, "not a kp patch",
	                       std::nullopt, false, false});
	v.installed.push_back(
	        {"/lib/modules/6.1.0/kp/kp_a.ko", module("kp_a", "01"), "", true, true, false});
	v.installed.push_back({"/lib/modules/6.1.0/kp/kp_z.ko", module("kp_z", "02"), "",
	                       std::nullopt, false, true});
	v.rolled_back = {{"02", "kp_z", "fault in foo+0x1"}};
	return v;
}

template <class View, class Print>
std::string text(const View &v, Print print)
{
	std::ostringstream o;
	print(o, v);
	return o.str();
}

} // namespace

TEST(RenderList, Text)
{
	EXPECT_EQ(text(list_view(), print_list),
	          "loaded (2):\n"
	          "  kp_a  enabled  transition idle  1 function(s)\n"
	          "  kp_c  enabled  transition canary (2 task(s))  1 function(s)  ROLLED BACK\n"
	          "installed in /lib/modules/6.1.0/kp (3):\n"
	          "  /lib/modules/6.1.0/kp/bad.ko  unusable: not a kp patch\n"
	          "  kp_a  /lib/modules/6.1.0/kp/kp_a.ko  loaded  for this kernel\n"
	          "  kp_z  /lib/modules/6.1.0/kp/kp_z.ko  not loaded  target unknown  ROLLED BACK "
	          "before\n"
	          "rolled back (1):\n"
	          "  kp_z  module build ID 02  fault in foo+0x1\n");
}

TEST(RenderList, Json)
{
	auto j = list_json(list_view());
	EXPECT_EQ(j["dir"], "/lib/modules/6.1.0/kp");
	ASSERT_EQ(j["loaded"].size(), 2u);
	EXPECT_EQ(j["loaded"][0]["rolled_back"], nullptr);
	EXPECT_EQ(j["loaded"][1]["rolled_back"], "oops");
	EXPECT_EQ(j["loaded"][1]["functions"], 1);
	ASSERT_EQ(j["installed"].size(), 3u);
	EXPECT_EQ(j["installed"][0], (nlohmann::json{{"file", "/lib/modules/6.1.0/kp/bad.ko"},
	                                             {"error", "not a kp patch"}}));
	EXPECT_EQ(j["installed"][1], (nlohmann::json{{"file", "/lib/modules/6.1.0/kp/kp_a.ko"},
	                                             {"name", "kp_a"},
	                                             {"loaded", true},
	                                             {"target_release", "6.1.0"},
	                                             {"target_build_id", "aabb"},
	                                             {"matches_running_kernel", true},
	                                             {"functions", 1},
	                                             {"rolled_back", false},
	                                             {"error", nullptr}}));
	EXPECT_EQ(j["installed"][2]["matches_running_kernel"], nullptr);
	EXPECT_EQ(j["installed"][2]["rolled_back"], true);
	EXPECT_EQ(j["rolled_back"], (nlohmann::json::parse(R"([{"name": "kp_z",
	          "module_build_id": "02", "why": "fault in foo+0x1", "confirmed": true}])")));
}

TEST(RenderStatus, NothingLoaded)
{
	StatusView v;
	EXPECT_EQ(text(v, print_status), "no kp patches loaded (core module kp_core not loaded)\n");
	v.core_loaded = true;
	EXPECT_EQ(text(v, print_status), "no kp patches loaded\n");
	EXPECT_EQ(status_json(v), nlohmann::json::parse(R"({"core_loaded": true, "patches": [],
	          "rolled_back": []})"));
}

TEST(RenderStatus, OnePatchLeavesTheRolledBackListOut)
{
	StatusView v;
	v.core_loaded = true;
	PatchState p = patch("kp_a", "idle");
	p.probation_left = 12;
	p.states = {"1 2"};
	v.patches = {p};
	v.rolled_back = {{"02", "kp_z", "fault"}};
	const std::string one = "kp_a: enabled\n"
	                        "  on probation: 12 s left\n"
	                        "  build ID 136bea46\n"
	                        "  functions (1):\n"
	                        "    vmlinux cmdline_proc_show,0  old 0xffffffff81234560  new "
	                        "0xffffffffc0001000\n"
	                        "  callbacks (0):\n"
	                        "  states (1):\n"
	                        "    id 1 version 2\n"
	                        "  shadow variable ids (0):\n";
	EXPECT_EQ(text(v, print_status), one + "rolled back (refused unless loaded with --force):\n"
	                                       "  kp_z (module build ID 02): fault\n");
	v.one_patch = true;
	EXPECT_EQ(text(v, print_status), one);
	auto j = status_json(v);
	ASSERT_EQ(j["patches"].size(), 1u);
	EXPECT_EQ(j["patches"][0]["probation_left"], 12);
	EXPECT_EQ(j["rolled_back"].size(), 1u) << "JSON always has the list";
}

TEST(RenderStatus, ATransitionCountsTheTasksGathered)
{
	StatusView v;
	PatchState p = patch("kp_t", "enabling");
	p.transition_ms = 1520;
	p.timeout = 60;
	p.pending_count = 1;
	p.pending = {"81 cat pipe_read+0x1d2/0x4a0"};
	v.patches = {p};
	v.total_tasks = 537;
	std::string t = text(v, print_status);
	EXPECT_EQ(t.substr(0, t.find('\n')),
	          "kp_t: enabling, 1 of 537 tasks not switched yet (cat 81 in pipe_read), "
	          "reverses in 59 s");
	EXPECT_NE(t.find("  enabling for 1520 ms, reverses after 60 s; not switched yet:\n"
	                 "    81 cat pipe_read+0x1d2/0x4a0\n"),
	          std::string::npos)
	        << t;
}

TEST(RenderInfo, TextAndJson)
{
	InfoView v{module("kp_a", "01"), false};
	std::string t = text(v, print_info);
	EXPECT_EQ(t.substr(0, t.find("sources")), "name:     kp_a\n"
	                                          "file:     /lib/modules/6.1.0/kp/kp_a.ko\n"
	                                          "target:   release 6.1.0, build ID aabb\n"
	                                          "vermagic: 6.1.0 SMP mod_unload\n"
	                                          "running kernel: does NOT match\n");
	EXPECT_NE(t.find("functions replaced (1):\n"
	                 "  vmlinux cmdline_proc_show,0  old size 0x40  -> (null)\n"),
	          std::string::npos)
	        << t;
	EXPECT_NE(t.find("undefined symbols (resolved by the module loader, 1):\n  printk\n"),
	          std::string::npos)
	        << t;
	auto j = info_json(v);
	EXPECT_EQ(j["matches_running_kernel"], false);
	EXPECT_EQ(j["name"], "kp_a");
	EXPECT_EQ(j["functions"][0]["old_size"], 0x40);
	EXPECT_EQ(j["undefined"], nlohmann::json::array({"printk"}));
	v.matches_running_kernel = std::nullopt;
	EXPECT_EQ(info_json(v)["matches_running_kernel"], nullptr);
}
