#include "render/json.h"

namespace kp::ctl {

using nlohmann::json;

json pointer_json(const Pointer &p)
{
	if (p.kind == Pointer::Kind::null)
		return nullptr;
	return p.describe();
}

json module_json(const ModuleInfo &m, std::optional<bool> matches)
{
	json j;
	j["file"] = m.path;
	j["name"] = m.name;
	j["kp_patch"] = m.kp_patch;
	j["abi_version"] = m.abi_version;
	j["vermagic"] = m.vermagic;
	j["target"] = {{"release", m.target_release}, {"build_id", m.target_build_id}};
	j["matches_running_kernel"] = matches ? json(*matches) : json(nullptr);
	j["sources"] = json::array();
	for (const auto &s : m.sources)
		j["sources"].push_back({{"file", s.file}, {"sha256", s.sha256}});
	j["functions"] = json::array();
	for (const auto &f : m.funcs)
		j["functions"].push_back({{"object", f.object},
		                          {"function", f.function},
		                          {"sympos", f.sympos},
		                          {"old_size", f.old_size},
		                          {"new_function", pointer_json(f.new_func)},
		                          {"new_size", f.new_size}});
	j["symbols"] = json::array();
	for (const auto &s : m.syms)
		j["symbols"].push_back({{"object", s.object},
		                        {"symbol", s.symbol},
		                        {"sympos", s.sympos},
		                        {"expected", pointer_json(s.expected)}});
	j["relocations"] = json::array();
	for (const auto &r : m.relocs)
		j["relocations"].push_back({{"dest", pointer_json(r.dest)},
		                            {"object", r.object},
		                            {"symbol", r.symbol},
		                            {"sympos", r.sympos},
		                            {"addend", r.addend},
		                            {"type", r.type_name()}});
	j["callbacks"] = json::array();
	for (const auto &c : m.callbacks)
		j["callbacks"].push_back({{"object", c.object},
		                          {"pre_patch", pointer_json(c.pre_patch)},
		                          {"post_patch", pointer_json(c.post_patch)},
		                          {"pre_unpatch", pointer_json(c.pre_unpatch)},
		                          {"post_unpatch", pointer_json(c.post_unpatch)}});
	j["states"] = json::array();
	for (const auto &s : m.states)
		j["states"].push_back({{"id", s.id}, {"version", s.version}});
	j["shadow_ids"] = json::array();
	for (const auto &s : m.shadows)
		j["shadow_ids"].push_back({{"id", s.id}, {"dtor", pointer_json(s.dtor)}});
	j["values"] = json::array();
	for (const auto &v : m.values)
		j["values"].push_back({{"object", v.object},
		                       {"variable", v.variable},
		                       {"sympos", v.sympos},
		                       {"size", v.old_value.size()},
		                       {"old", records::value_text(v.old_value)},
		                       {"new", records::value_text(v.new_value)}});
	j["rollback_on"] = records::rollback_kinds_text(m.rollback_on);
	j["on_timeout"] =
	        m.on_timeout ? json(records::on_timeout_text(m.on_timeout)) : json(nullptr);
	j["replace"] = m.patch ? m.patch->replace : false;
	j["set"] = m.patch ? m.patch->set : "";
	j["undefined"] = m.undefined;
	return j;
}

json patch_json(const PatchState &p)
{
	json j;
	j["name"] = p.name;
	j["enabled"] = p.enabled;
	j["transition"] = p.transition;
	j["transition_ms"] = p.transition_ms;
	j["pending"] = p.pending;
	j["timeout"] = p.timeout;
	j["on_timeout"] = p.on_timeout;
	j["stalled"] = p.stalled;
	j["forced"] = p.forced;
	j["blocked"] = p.blocked;
	j["build_id"] = p.build_id;
	j["callbacks"] = p.callbacks;
	j["states"] = p.states;
	j["shadow_ids"] = p.shadow_ids;
	j["values"] = p.values;
	j["probation_left"] = p.probation_left;
	j["canary"] = p.canary;
	j["rolled_back"] = p.rolled_back.empty() ? json(nullptr) : json(p.rolled_back);
	j["replace"] = p.replace;
	j["set"] = p.set;
	j["replaced"] = p.replaced;
	j["replaced_by"] = p.replaced_by.empty() ? json(nullptr) : json(p.replaced_by);
	j["functions"] = json::array();
	for (const auto &f : p.funcs)
		j["functions"].push_back({{"object", f.object},
		                          {"function", f.function},
		                          {"sympos", f.sympos},
		                          {"old_addr", f.old_addr},
		                          {"new_addr", f.new_addr}});
	return j;
}

json rolled_back_json(const std::vector<RolledBack> &v)
{
	json j = json::array();
	for (const auto &r : v)
		j.push_back({{"name", r.name},
		             {"module_build_id", r.build_id},
		             {"why", r.why},
		             {"confirmed", r.confirmed}});
	return j;
}

json status_json(const StatusView &v)
{
	json j;
	j["core_loaded"] = v.core_loaded;
	j["patches"] = json::array();
	for (const auto &p : v.patches)
		j["patches"].push_back(patch_json(p));
	j["rolled_back"] = rolled_back_json(v.rolled_back);
	return j;
}

namespace {

json installed_json(const InstalledPatch &i)
{
	json e;
	e["file"] = i.file;
	if (!i.info) {
		e["error"] = i.error;
		return e;
	}
	e["name"] = i.info->name;
	e["loaded"] = i.loaded;
	e["target_release"] = i.info->target_release;
	e["target_build_id"] = i.info->target_build_id;
	e["matches_running_kernel"] =
	        i.matches_running_kernel ? json(*i.matches_running_kernel) : json(nullptr);
	e["functions"] = i.info->funcs.size();
	e["rolled_back"] = i.rolled_back;
	e["error"] = nullptr;
	return e;
}

} // namespace

json list_json(const ListView &v)
{
	json j;
	j["dir"] = v.dir;
	j["loaded"] = json::array();
	for (const auto &p : v.loaded)
		j["loaded"].push_back(
		        {{"name", p.name},
		         {"enabled", p.enabled},
		         {"transition", p.transition},
		         {"functions", p.funcs.size()},
		         {"rolled_back",
		          p.rolled_back.empty() ? json(nullptr) : json(p.rolled_back)},
		         {"replace", p.replace},
		         {"set", p.set},
		         {"replaced", p.replaced},
		         {"replaced_by",
		          p.replaced_by.empty() ? json(nullptr) : json(p.replaced_by)}});
	j["installed"] = json::array();
	for (const auto &i : v.installed)
		j["installed"].push_back(installed_json(i));
	j["rolled_back"] = rolled_back_json(v.rolled_back);
	return j;
}

json info_json(const InfoView &v)
{
	return module_json(v.module, v.matches_running_kernel);
}

} // namespace kp::ctl
