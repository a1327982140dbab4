// kpctl: load, unload and inspect kp live patches on the running kernel.  The command
// line is cli.cpp's; the exit status of every failure is chosen here, from the error.
#include <iostream>

#include "cli.h"

int main(int argc, char **argv)
{
	using kp::ctl::Exit;
	kp::ctl::CommandLine cli;
	if (auto stop = cli.parse(argc, argv))
		return *stop;
	try {
		return static_cast<int>(cli.run());
	} catch (const kp::ctl::Error &e) {
		std::cerr << "kpctl: error: " << e.what() << "\n";
		return static_cast<int>(e.code());
	} catch (const std::exception &e) {
		std::cerr << "kpctl: error: " << e.what() << "\n";
		return static_cast<int>(Exit::internal);
	}
}
