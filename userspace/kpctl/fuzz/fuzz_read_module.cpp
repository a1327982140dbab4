// libFuzzer target: an arbitrary byte string as a patch module file, read with
// read_module() as `kpctl info` reads it (through a file descriptor, as in production),
// which reads it with lib/elf and lib/records.
// Any input must end in a ModuleInfo or a kp::ctl::Error, never a crash, a sanitizer
// report, a hang or unbounded memory.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "errors.h"
#include "module_fd.h"
#include "module_file.h"

static int memfd = -1;

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	memfd = memfd_create("kpctl-fuzz.ko", MFD_CLOEXEC);
	if (memfd < 0)
		std::abort();
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != static_cast<ssize_t>(size))
		std::abort();
	try {
		auto file = kp::ctl::ModuleFd::open("/proc/self/fd/" + std::to_string(memfd));
		kp::ctl::ModuleInfo m = kp::ctl::read_module(file, false);
		for (const auto &f : m.funcs)
			(void)f.new_func.describe();
		for (const auto &s : m.syms)
			(void)s.expected.describe();
		for (const auto &r : m.relocs)
			(void)(r.dest.describe() + r.type_name());
	} catch (const kp::ctl::Error &) {
	}
	return 0;
}
