// Deterministic mutation driver over the ELF input (the libFuzzer target in fuzz/ does
// the same open-ended): corrupted or truncated objects must give an error, not a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "errors.h"
#include "helpers.h"

namespace {

std::vector<uint8_t> read_all(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST(DiffgenMutation, CorruptedObjectsNeverCrash)
{
	auto p = kp::test::make_pair_objects(
	        "mutation",
	        "extern int _printk(const char *, ...);\nstatic int c;\n"
	        "int show(int v) { c++; _printk(\"a %d\", v); return v + c; }\n",
	        "extern int _printk(const char *, ...);\nstatic int c;\n"
	        "int show(int v) { c++; _printk(\"b %d\", v); return v + c; }\n");
	const auto good = read_all(p.patched);
	ASSERT_GT(good.size(), 512u);
	std::mt19937_64 rng(12345);
	std::string mutated = (p.dir / "mutated.o").string();
	std::map<std::string, int> outcomes; // by Result::outcome()
	const int rounds = 1500;
	for (int i = 0; i < rounds; i++) {
		std::vector<uint8_t> bytes = good;
		switch (i % 3) {
		case 0: // truncate
			bytes.resize(rng() % bytes.size());
			break;
		case 1: // flip a few bytes, biased to headers and tables
			for (int k = 0; k < 1 + static_cast<int>(rng() % 8); k++) {
				size_t at = (rng() % 2) ? rng() % 64 : rng() % bytes.size();
				bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
			}
			break;
		default: // overwrite a 4/8-byte field with an extreme value
			size_t at = rng() % (bytes.size() - 8);
			uint64_t v = (rng() % 2) ? ~0ULL : (rng() % 0x10000);
			std::memcpy(bytes.data() + at, &v, (rng() % 2) ? 4 : 8);
			break;
		}
		// Parsing alone: throws Error or succeeds.
		if (auto parsed = kp::elf::Object::from_bytes("mutated.o", bytes); !parsed) {
			EXPECT_NE(parsed.error().message().find("mutated.o"), std::string::npos)
			        << parsed.error().message();
		}
		// The whole pipeline: a defined exit code and a message when it fails.
		std::ofstream(mutated, std::ios::binary)
		        .write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
		auto r = kp::diffgen::run(p.orig, mutated, p.out, {});
		outcomes[r.outcome()]++;
		if (r.failure != std::nullopt) {
			EXPECT_FALSE(r.messages.empty());
			EXPECT_FALSE(std::filesystem::exists(p.out));
		}
	}
	EXPECT_GT(rounds - outcomes["changed"] - outcomes["no change"] - outcomes["unsupported"],
	          rounds / 4)
	        << "most mutations must be detected as errors";
}
