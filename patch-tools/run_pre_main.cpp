// kp-run-pre: does a compiled object's code match a kernel image's? (run_pre.h)
//   kp-run-pre OBJECT.o IMAGE [--function NAME]... [--all]
// Without --function: every function of OBJECT that IMAGE has is compared and a summary of
// how many match is printed (how well the source reproduces the image). With --function:
// those functions must match; the first mismatch is named. Exit 0 all compared functions
// match, 1 a mismatch or an error.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "error.h"
#include "run_pre.h"

namespace {

int check(const std::string &object, const std::string &image_path,
          const std::vector<std::string> &only, bool list)
{
	kp::build::ImageFunctions image(image_path);
	size_t compared = 0, matched = 0, absent = 0, overridden = 0;
	std::string first_mismatch;
	for (const auto &f : kp::build::object_functions(object)) {
		bool wanted =
		        only.empty() || std::find(only.begin(), only.end(), f.name) != only.end();
		if (!wanted)
			continue;
		if (image.find(f.name).empty()) {
			++absent; // inlined everywhere, or only in __init sections freed at boot
			if (!only.empty())
				throw kp::build::Error("run-pre: " + f.name +
				                       " is not a function of " + image_path);
			continue;
		}
		kp::build::RunPreResult r = kp::build::run_pre_check(f, image);
		if (r.overridden && only.empty()) {
			++overridden;
			if (list)
				std::printf("overridden %s: %s\n", f.name.c_str(),
				            r.describe().c_str());
			continue;
		}
		++compared;
		matched += r.match;
		if (list || (!r.match && !only.empty()))
			std::printf("%s %s: %s\n", r.match ? "same" : "DIFFERENT", f.name.c_str(),
			            r.describe().c_str());
		if (!r.match && first_mismatch.empty())
			first_mismatch = f.name + ": " + r.describe();
	}
	std::printf("run-pre: %zu of %zu functions of %s match %s (%.1f%%); %zu not in the image, "
	            "%zu weak ones overridden\n",
	            matched, compared, object.c_str(), image_path.c_str(),
	            compared ? 100.0 * static_cast<double>(matched) / static_cast<double>(compared)
	                     : 0.0,
	            absent, overridden);
	if (!first_mismatch.empty()) {
		std::fprintf(stderr, "kp-run-pre: %s differs from the image: %s\n", object.c_str(),
		             first_mismatch.c_str());
		return 1;
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	std::string object, image;
	std::vector<std::string> functions;
	bool list = false;
	CLI::App app{"kp-run-pre: compare a compiled object's functions with a kernel image's"};
	app.add_option("object", object, "relocatable object (-ffunction-sections)")->required();
	app.add_option("image", image, "vmlinux with symbols, or a module .ko")->required();
	app.add_option("--function", functions, "compare only these (repeatable)");
	app.add_flag("--list", list, "print a line per function");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e) == 0 ? 0 : 1;
	}
	try {
		return check(object, image, functions, list);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "kp-run-pre: %s\n", e.what());
		return 1;
	}
}
