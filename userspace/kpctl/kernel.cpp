#include "kernel.h"

#include <sys/utsname.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "elf/object.h"
#include "errors.h"
#include "paths.h"

namespace kp::ctl {

std::string build_id_from_notes(const std::string &notes)
{
	auto bytes = std::span(reinterpret_cast<const uint8_t *>(notes.data()), notes.size());
	return elf::gnu_build_id(elf::parse_notes(bytes));
}

std::string running_build_id()
{
	std::string path = paths::kernel_notes();
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw Error(Exit::internal, errno_text("cannot read " + path, errno) +
		                                    "; kpctl needs sysfs mounted on /sys to check "
		                                    "the kernel's build ID");
	std::string notes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	std::string id = build_id_from_notes(notes);
	if (id.empty())
		throw Error(Exit::internal,
		            "the running kernel has no GNU build ID in " + path +
		                    "; kp patches need a kernel linked with --build-id");
	return id;
}

std::string running_release()
{
	struct utsname u;
	if (uname(&u) != 0)
		throw Error(Exit::internal, errno_text("uname", errno));
	return u.release;
}

} // namespace kp::ctl
