#include "objects.h"

#include <gtest/gtest.h>

namespace kp::libtest {

std::vector<uint8_t> bytes(std::string_view s)
{
	return {s.begin(), s.end()};
}

void put_u64(std::vector<uint8_t> &out, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::unique_ptr<elf::Object> write_and_read(const elf::Writer &w, const kit::TempDir &dir,
                                            const std::string &name, const elf::ReadOptions &opts)
{
	std::string path = dir / name;
	auto written = w.write(path);
	if (!written) {
		ADD_FAILURE() << "writing " << path << ": " << written.error().message();
		return nullptr;
	}
	auto obj = elf::Object::open(path, opts);
	if (!obj) {
		ADD_FAILURE() << "reading " << path << ": " << obj.error().message();
		return nullptr;
	}
	return std::move(*obj);
}

} // namespace kp::libtest
