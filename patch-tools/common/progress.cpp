#include "progress.h"

#include <cstdio>
#include <utility>

#include "error.h"

namespace kp::build {

Log::Log(const std::string &path)
{
	open(path);
}

Log::~Log()
{
	if (f_)
		std::fclose(f_);
}

void Log::open(const std::string &path)
{
	std::lock_guard<std::mutex> lk(mu_);
	if (f_)
		std::fclose(f_);
	f_ = std::fopen(path.c_str(), "a");
	if (!f_)
		throw_errno("cannot open log " + path);
	path_ = path;
}

void Log::write(const std::string &text)
{
	std::lock_guard<std::mutex> lk(mu_);
	if (!f_)
		return;
	std::fwrite(text.data(), 1, text.size(), f_);
	std::fflush(f_);
}

void Progress::stage_done(const std::string &name, double seconds, const std::string &detail,
                          double compiler_seconds)
{
	stages_.push_back({name, seconds, compiler_seconds});
	char t[32];
	std::snprintf(t, sizeof t, "%.2f s", seconds);
	std::string line =
	        "kp-build: " + name + (detail.empty() ? "" : ": " + detail) + " [" + t + "]";
	std::fprintf(stderr, "%s\n", line.c_str());
	log_.write("== " + line + "\n");
}

void Progress::note(const std::string &text)
{
	std::fprintf(stderr, "kp-build: %s\n", text.c_str());
	log_.write("-- " + text + "\n");
}

void Progress::verbose(const std::string &text)
{
	if (verbose_)
		std::fprintf(stderr, "kp-build: %s\n", text.c_str());
	log_.write("-- " + text + "\n");
}

void Stage::done(const std::string &detail)
{
	double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
	p_.stage_done(name_, s, detail, compiler_);
}

std::string format_duration(double seconds)
{
	long s = seconds > 0 ? static_cast<long>(seconds + 0.5) : 0;
	char buf[32];
	if (s < 60)
		std::snprintf(buf, sizeof buf, "%lds", s);
	else if (s < 3600)
		std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
	else
		std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
	return buf;
}

std::string format_build_progress(const std::string &label, size_t done, size_t expected,
                                  double elapsed)
{
	std::string out = label + ": " + std::to_string(done);
	if (expected == 0)
		return out + " objects, " + format_duration(elapsed);
	if (done >= expected)
		return out + " objects (expected ~" + std::to_string(expected) + "), " +
		       format_duration(elapsed) + ", finishing";
	out += " of ~" + std::to_string(expected) + " objects (" +
	       std::to_string(done * 100 / expected) + "%), " + format_duration(elapsed);
	// The first objects (host tools, headers) say little about the rest: wait for 2% and 10 s.
	if (done * 50 < expected || elapsed < 10)
		return out + ", estimating time left";
	double left = elapsed * static_cast<double>(expected - done) / static_cast<double>(done);
	return out + ", about " + format_duration(left) + " left";
}

bool is_object_line(std::string_view line)
{
	// Kbuild's quiet lines: two spaces, an upper-case tag (CC, AS, HOSTCC, LD...), an optional
	// " [M]", spaces, the target.
	if (line.size() < 4 || line.substr(0, 2) != "  " || line[2] < 'A' || line[2] > 'Z')
		return false;
	size_t i = 2;
	while (i < line.size() && ((line[i] >= 'A' && line[i] <= 'Z') ||
	                           (line[i] >= '0' && line[i] <= '9') || line[i] == '_'))
		++i;
	if (i == line.size() || line[i] != ' ')
		return false;
	std::string_view target = line.substr(line.find_last_of(' ') + 1);
	return target.size() > 2 && target.substr(target.size() - 2) == ".o";
}

bool is_rebuilt_object_record(const std::string &rel)
{
	auto slash = rel.rfind('/');
	std::string_view b =
	        std::string_view(rel).substr(slash == std::string::npos ? 0 : slash + 1);
	auto ends = [&](std::string_view suf) {
		return b.size() > suf.size() && b.substr(b.size() - suf.size()) == suf;
	};
	if (b.empty() || b.front() != '.' || !ends(".o.cmd") || ends(".mod.o.cmd"))
		return false;
	// vmlinux_o stops before the boot image (arch/x86/boot: bzImage's own objects).
	return rel.rfind("arch/x86/boot/", 0) != 0;
}

BuildProgress::BuildProgress(std::string label, size_t expected, bool tty, Emit emit)
    : label_(std::move(label)), expected_(expected), tty_(tty), emit_(std::move(emit))
{}

void BuildProgress::feed(std::string_view output)
{
	feed(output,
	     std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

void BuildProgress::feed(std::string_view output, double elapsed)
{
	size_t before = done_;
	for (size_t nl; (nl = output.find('\n')) != std::string_view::npos;
	     output.remove_prefix(nl + 1)) {
		partial_.append(output.substr(0, nl));
		if (is_object_line(partial_))
			++done_;
		partial_.clear();
	}
	partial_.append(output);
	if (tty_) {
		if (done_ != before && (!drawn_ || elapsed - last_report_ >= 0.5))
			report(elapsed);
		return;
	}
	// A line every 5% of the expected total; without one, every minute.
	size_t step = expected_ ? (done_ >= expected_ ? 20 : done_ * 20 / expected_)
	                        : static_cast<size_t>(elapsed / 60);
	if (step > last_step_) {
		last_step_ = step;
		report(elapsed);
	}
}

void BuildProgress::report(double elapsed)
{
	std::string line = format_build_progress(label_, done_, expected_, elapsed);
	emit_(tty_ ? "\r" + line + "\033[K" : line + "\n");
	last_report_ = elapsed;
	drawn_ = true;
}

std::string BuildProgress::finish(double elapsed)
{
	if (tty_ && drawn_)
		emit_("\r\033[K");
	std::string out =
	        label_ + ": " + std::to_string(done_) + " objects in " + format_duration(elapsed);
	if (expected_)
		out += " (expected ~" + std::to_string(expected_) + ")";
	return out;
}

} // namespace kp::build
