// Seeds for kpctl's module-reader fuzzer (scripts/fuzz.sh kpctl): crafted modules
// written into the corpus folder given as the only argument.
#include <fstream>
#include <iostream>
#include <string>

#include "crafted_module.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		std::cerr << "usage: kpctl_fuzz_seeds CORPUS_DIR\n";
		return 2;
	}
	kp::ctl::test::CraftedModule a, b;
	b.records = 3;
	b.symbols = 4;
	b.addend = -4;
	std::ofstream(std::string(argv[1]) + "/crafted1.ko") << kp::ctl::test::crafted_module(a);
	std::ofstream(std::string(argv[1]) + "/crafted3.ko") << kp::ctl::test::crafted_module(b);
	return 0;
}
