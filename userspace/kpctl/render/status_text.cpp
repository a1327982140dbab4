#include "render/status_text.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace kp::ctl {

namespace {

// At most this many pending tasks are named in the headline; the full list follows it.
constexpr size_t kNamedTasks = 2;

std::string plural(unsigned long long n, const char *one, const char *many)
{
	return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string reverses_in(const PatchState &p)
{
	if (p.stalled)
		return "pending past its " + std::to_string(p.timeout) +
		       " s timeout: live for every other task";
	std::string outcome = timeout_outcome(p);
	unsigned long long limit_ms = 1000ULL * p.timeout;
	if (p.transition_ms >= limit_ms)
		return outcome == "reverses" ? "reversing now" : "pending now";
	unsigned long long left_s = (limit_ms - p.transition_ms + 999) / 1000;
	return outcome + " in " + std::to_string(left_s) + " s";
}

std::string named_tasks(const PatchState &p)
{
	std::string out;
	size_t n = 0;
	for (const auto &line : p.pending) {
		if (n == kNamedTasks)
			break;
		out += (n++ ? ", " : "") + describe_pending_task(line);
	}
	if (p.pending.size() > n)
		out += " and " + std::to_string(p.pending.size() - n) + " more";
	return out.empty() ? out : " (" + out + ")";
}

// "2 tasks (sh 123, cat 130)": "pid comm" lines of <patch>/canary as a person reads them.
std::string canary_tasks(const PatchState &p)
{
	std::string out = plural(p.canary.size(), "task", "tasks");
	std::string named;
	size_t n = 0;
	for (const auto &line : p.canary) {
		if (n == kNamedTasks)
			break;
		auto sp = line.find(' ');
		named += (n++ ? ", " : "") +
		         (sp == std::string::npos ? line
		                                  : line.substr(sp + 1) + " " + line.substr(0, sp));
	}
	if (p.canary.size() > n)
		named += " and " + std::to_string(p.canary.size() - n) + " more";
	return named.empty() ? out : out + " (" + named + ")";
}

} // namespace

std::string describe_pending_task(const std::string &line)
{
	std::istringstream in(line);
	std::vector<std::string> words;
	for (std::string w; in >> w;)
		words.push_back(w);
	// A module function ends in " [module]"; the comm may hold spaces.
	size_t end = words.size();
	if (end > 0 && words[end - 1].size() > 2 && words[end - 1].front() == '[' &&
	    words[end - 1].back() == ']')
		--end;
	if (end < 3 || words[0].find_first_not_of("0123456789") != std::string::npos)
		return line;
	std::string comm = words[1];
	for (size_t i = 2; i + 1 < end; ++i)
		comm += " " + words[i];
	const std::string &where = words[end - 1];
	if (where == "unreliable-stack")
		return comm + " " + words[0] + ", stack unreadable";
	return comm + " " + words[0] + " in " + where.substr(0, where.find('+'));
}

std::string timeout_outcome(const PatchState &p)
{
	return p.transition == "enabling" && p.on_timeout == "pending" ? "stays pending"
	                                                               : "reverses";
}

std::string status_headline(const PatchState &p, unsigned total_tasks)
{
	std::string out = p.name + ": ";
	std::string forced = p.forced ? ", FORCED (the module cannot be removed)" : "";
	if (p.transition == "idle")
		return out + (p.enabled ? "enabled" : "disabled") + forced;
	if (p.transition == "canary")
		return out + "in canary: " + canary_tasks(p) +
		       " run the new code, every other task the old; kpctl promote " + p.name +
		       " or kpctl abort " + p.name;
	if (p.transition != "enabling" && p.transition != "disabling")
		return out + (p.enabled ? "enabled" : "disabled") + ", transition " + p.transition +
		       forced;
	out += p.transition;
	if (p.pending_count == 0)
		return out + ", every task switched, finishing" + forced;
	// The tasks counted now: some of the transition's may have exited, new ones joined.
	unsigned total = std::max(total_tasks, p.pending_count);
	out += ", " + (total_tasks ? std::to_string(p.pending_count) + " of " +
	                                     plural(total, "task", "tasks")
	                           : plural(p.pending_count, "task", "tasks"));
	return out + " not switched yet" + named_tasks(p) + ", " + reverses_in(p) + forced;
}

} // namespace kp::ctl
