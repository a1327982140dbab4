// libFuzzer target: an arbitrary byte string as the PATCHED object, diffed against a
// fixed baseline object (KP_FUZZ_BASE) through every stage short of writing.
// Any input must end in success or a kp::Failure (of any kind: an unsupported change is
// one), never a crash.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "compare.h"
#include "correlate.h"
#include "elf/object.h"
#include "entry_sizes.h"
#include "errors.h"
#include "select.h"
#include "special_sections.h"

using namespace kp;

static std::unique_ptr<elf::Object> base;

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	const char *p = std::getenv("KP_FUZZ_BASE");
	if (!p)
		std::abort();
	base = diffgen::take(elf::Object::open(p));
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try {
		auto patched = diffgen::take(
		        elf::Object::from_bytes("fuzz.o", std::vector<uint8_t>(data, data + size)));
		diffgen::Correlation corr = diffgen::correlate(*base, *patched);
		diffgen::Comparer cmp(*base, *patched, corr);
		diffgen::Comparison c = cmp.run();
		diffgen::Options opts;
		diffgen::Selector sel(*base, *patched, corr, c, nullptr, opts);
		sel.run();
		diffgen::EntrySizes sizes({});
		sel.include_special(
		        diffgen::filter_special_sections(*patched, sel.selection(), sizes));
	} catch (const diffgen::Error &) {
	}
	return 0;
}
