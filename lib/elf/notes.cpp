// Notes (SHT_NOTE) and the GNU build ID: the one parser of them in kp.
#include <cstring>

#include "elf/object.h"

namespace kp::elf {

namespace {

constexpr uint64_t align4(uint64_t v)
{
	return (v + 3) & ~uint64_t(3);
}

void append_notes(std::span<const uint8_t> d, std::vector<Note> &out)
{
	struct Nhdr {
		uint32_t namesz, descsz, type;
	};
	uint64_t off = 0;
	while (d.size() - off >= sizeof(Nhdr)) {
		Nhdr h;
		std::memcpy(&h, d.data() + off, sizeof h);
		uint64_t name_off = off + sizeof h;
		uint64_t desc_off = name_off + align4(h.namesz);
		uint64_t end = desc_off + align4(h.descsz);
		if (desc_off > d.size() || h.descsz > d.size() - desc_off)
			return; // truncated: the notes before it stand
		std::string_view name(
		        reinterpret_cast<const char *>(d.data() + name_off),
		        h.namesz ? strnlen(reinterpret_cast<const char *>(d.data() + name_off),
		                           h.namesz)
		                 : 0);
		out.push_back({name, h.type, d.subspan(desc_off, h.descsz)});
		off = std::min<uint64_t>(end, d.size());
	}
}

} // namespace

std::vector<Note> parse_notes(std::span<const uint8_t> bytes)
{
	std::vector<Note> out;
	append_notes(bytes, out);
	return out;
}

std::vector<Note> Object::notes() const
{
	std::vector<Note> out;
	for (const auto &sec : sections_)
		if (sec->shdr.sh_type == SHT_NOTE)
			append_notes(sec->data, out);
	return out;
}

std::string Object::build_id() const
{
	return gnu_build_id(notes());
}

std::string gnu_build_id(const std::vector<Note> &notes)
{
	static const char hex[] = "0123456789abcdef";
	for (const Note &n : notes) {
		if (n.type != NT_GNU_BUILD_ID || n.name != "GNU" || n.desc.empty())
			continue;
		std::string id;
		for (uint8_t b : n.desc) {
			id += hex[b >> 4];
			id += hex[b & 15];
		}
		return id;
	}
	return {};
}

} // namespace kp::elf
