// Progress lines (one per stage, with its time), the work-dir log file, and the progress of
// a long make (objects done of the expected total, elapsed time, time left).
#pragma once
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kp::build {

class Log {
public:
	Log() = default;
	explicit Log(const std::string &path);
	~Log();
	Log(const Log &) = delete;
	Log &operator=(const Log &) = delete;
	void open(const std::string &path);
	void write(const std::string &text);
	const std::string &path() const { return path_; }

private:
	std::mutex mu_;
	std::FILE *f_ = nullptr;
	std::string path_;
};

struct StageTime {
	std::string name;
	double seconds;
	double compiler_seconds; // time spent inside make/gcc during the stage
};

class Progress {
public:
	Progress(Log &log, bool verbose) : log_(log), verbose_(verbose) {}
	// Prints "kp-build: <stage> <detail> (<t> s)" and records it.
	void stage_done(const std::string &name, double seconds, const std::string &detail,
	                double compiler_seconds = 0);
	void note(const std::string &text);    // always printed
	void verbose(const std::string &text); // printed with -v, always logged
	const std::vector<StageTime> &stages() const { return stages_; }
	Log &log() { return log_; }

private:
	Log &log_;
	bool verbose_;
	std::vector<StageTime> stages_;
};

// Measures one stage: Stage s(progress, "diff"); ...; s.done("3 objects");
class Stage {
public:
	Stage(Progress &p, std::string name)
	    : p_(p), name_(std::move(name)), start_(std::chrono::steady_clock::now())
	{}
	void add_compiler_time(double s) { compiler_ += s; }
	void done(const std::string &detail = {});

private:
	Progress &p_;
	std::string name_;
	std::chrono::steady_clock::time_point start_;
	double compiler_ = 0;
};

// ---- progress of a long make (kp-build's original build; vm-images/build-progress.py
// prints the same lines for `make kernel`)

// "42s", "3m05s", "1h02m".
std::string format_duration(double seconds);

// "original build: 1234 of ~5678 objects (21%), 1m02s, about 3m50s left". Without an expected
// total (0): "original build: 1234 objects, 1m02s"; past it: "... (expected ~5678), ...,
// finishing".
std::string format_build_progress(const std::string &label, size_t done, size_t expected,
                                  double elapsed);

// Is this line of make's output Kbuild's report of one object built ("  CC [M]  fs/x.o")?
bool is_object_line(std::string_view line);

// Is `rel` (relative to a built tree) the dependency record of an object that kp-build's
// original build compiles again (".fork.o.cmd"; not the boot image's nor a module's .mod.o)?
bool is_rebuilt_object_record(const std::string &rel);

// Follows make's output, counting objects. On a terminal (`tty`) one line redrawn at most
// twice a second; otherwise a line every 5% of the expected total (every minute without one).
class BuildProgress {
public:
	using Emit = std::function<void(const std::string &)>;
	BuildProgress(std::string label, size_t expected, bool tty, Emit emit);
	void feed(std::string_view output);                 // elapsed from the constructor
	void feed(std::string_view output, double elapsed); // for tests
	// The summary ("original build: 5689 objects in 5m01s (expected ~5678)"); on a terminal
	// it ends the updating line first.
	std::string finish(double elapsed);
	size_t done() const { return done_; }

private:
	void report(double elapsed);

	std::string label_;
	size_t expected_;
	bool tty_;
	Emit emit_;
	std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
	std::string partial_;
	size_t done_ = 0;
	double last_report_ = 0;
	size_t last_step_ = 0; // non-tty: the last 5% step (or minute) reported
	bool drawn_ = false;
};

} // namespace kp::build
