#include "kernel.h"

#include <sys/utsname.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "errors.h"

namespace kp::ctl {

std::string sys_root()
{
	const char *env = std::getenv("KPCTL_SYSFS");
	return env && *env ? env : "/sys";
}

std::string build_id_from_notes(const std::string &notes)
{
	constexpr uint32_t nt_gnu_build_id = 3;
	size_t off = 0;
	auto align4 = [](size_t v) { return (v + 3) & ~size_t{3}; };
	while (off + 12 <= notes.size()) {
		uint32_t namesz, descsz, type;
		std::memcpy(&namesz, notes.data() + off, 4);
		std::memcpy(&descsz, notes.data() + off + 4, 4);
		std::memcpy(&type, notes.data() + off + 8, 4);
		size_t name_off = off + 12;
		size_t desc_off = name_off + align4(namesz);
		size_t next = desc_off + align4(descsz);
		if (next > notes.size() || next <= off)
			break;
		std::string name(notes.data() + name_off, namesz ? namesz - 1 : 0);
		if (type == nt_gnu_build_id && name == "GNU" && descsz) {
			std::ostringstream hex;
			static const char digits[] = "0123456789abcdef";
			for (size_t i = 0; i < descsz; i++) {
				auto b = static_cast<unsigned char>(notes[desc_off + i]);
				hex << digits[b >> 4] << digits[b & 15];
			}
			return hex.str();
		}
		off = next;
	}
	return "";
}

std::string running_build_id()
{
	std::string path = sys_root() + "/kernel/notes";
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
