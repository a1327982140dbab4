// Run-pre (issue 13 item 4, after Ksplice): before a patch is written, each function it
// replaces, as kp-build compiled it from the original source, is compared with the same
// function in the target's image, instruction by instruction, modulo relocations. A
// mismatch means the source is not what built the target: the patch is refused, naming the
// function and the first differing instruction.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kp::elf {
class Object;
}

namespace kp::build {

// A function's code: its bytes and, in a relocatable object, the byte ranges that
// relocations fill in ([begin, end) offsets from the function's start).
struct FunctionCode {
	std::string name;
	uint64_t address = 0; // in the image; 0 in an object
	bool weak = false;    // a __weak definition (another object may override it)
	std::vector<uint8_t> bytes;
	std::vector<std::pair<uint64_t, uint64_t>> relocated;
	// Offsets of its jump-label sites (__jump_table): objtool turns a site's jmp into a
	// NOP of the same length when it links the kernel (6.12's --hacks=jump_label), so the
	// image may have a NOP where the object has the jmp; the kernel patches both alike.
	std::vector<uint64_t> jump_labels;
};

// Every defined STT_FUNC of a relocatable object (a -ffunction-sections build) with the
// ranges its section's relocations cover.
std::vector<FunctionCode> object_functions(const std::string &object_path);

// The functions of a linked image (vmlinux with its symbol table, or a module .ko's
// functions by symbol), by name; a local name may have several.
class ImageFunctions {
public:
	explicit ImageFunctions(const std::string &image_path);
	~ImageFunctions();
	ImageFunctions(const ImageFunctions &) = delete;
	ImageFunctions &operator=(const ImageFunctions &) = delete;
	std::vector<FunctionCode> find(const std::string &name) const;
	const std::string &path() const { return path_; }

private:
	struct Sym {
		std::string name;
		uint64_t addr;                 // address (vmlinux) or section offset (.ko)
		std::span<const uint8_t> code; // views image_'s mapping
	};
	std::string path_;
	std::unique_ptr<kp::elf::Object> image_; // lib/elf: kp's one ELF model
	std::vector<Sym> syms_;                  // sorted by name
};

struct RunPreResult {
	bool match = false;
	bool overridden = false; // a weak definition the image replaced with another one
	size_t instruction = 0;  // index of the first differing instruction
	uint64_t offset = 0;     // its offset in the compiled function
	std::string compiled;    // "mnemonic operands" as compiled from the source
	std::string image;       // the same position in the image
	std::string describe() const;
};

// Compares compiled (from an object) with image (from the target), instruction by
// instruction: bytes equal outside relocated ranges (an instruction carrying a relocation
// may differ in encoding, e.g. a rel32 jump the linker's image has as rel8: its mnemonic
// must be equal), branches inside the function to the same instruction.
RunPreResult compare_code(const FunctionCode &compiled, const FunctionCode &image);

// Compares compiled with every image function of its name; the first exact match wins.
// Error when the image has no function of that name.
RunPreResult run_pre_check(const FunctionCode &compiled, const ImageFunctions &image);

struct PatchObject;

// The stage: run-pre on the functions the patch changes (bytes or relocated ranges differ
// between the original and the patched object): each must be the code of the image its
// object went into. An object none of whose functions is the image's code is one the
// config does not build (Kbuild compiles any single target): refused (unsupported).
// Returns how many functions were checked; throws Error naming the first mismatch.
size_t check_against_images(const std::vector<PatchObject> &objects);

} // namespace kp::build
