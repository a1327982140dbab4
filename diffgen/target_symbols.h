// The running kernel's view of symbols: the target ELF (vmlinux or MODULE.ko) given with
// --symbols, read with libelf.  Answers sympos (position among same-named symbols in
// address order, 0 when unique) and whether a symbol is exported.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "elf/object.h"

struct Elf;

namespace kp::diffgen {

class TargetSymbols {
public:
	static std::unique_ptr<TargetSymbols> load(const std::string &path);
	~TargetSymbols();
	TargetSymbols() = default;
	TargetSymbols(const TargetSymbols &) = delete;
	TargetSymbols &operator=(const TargetSymbols &) = delete;

	// sympos of @name, or nullopt when the target has no such symbol.  For a local of
	// @obj, the STT_FILE block whose locals best match @obj's locals picks the candidate.
	std::optional<uint64_t> sympos(const std::string &name, bool local, const elf::Object &obj) const;
	bool exported(const std::string &name) const { return exported_.count(std::string_view(name)) != 0; }
	const std::string &path() const { return path_; }

private:
	struct Entry {
		uint64_t addr;
		size_t block;  // STT_FILE block (SIZE_MAX for globals)
		bool local;
	};
	size_t best_block(const elf::Object &obj) const;

	std::string path_;
	int fd_ = -1;
	Elf *elf_ = nullptr;  // kept open: names below point into its string table
	std::unordered_map<std::string_view, std::vector<Entry>> by_name_;  // address order
	std::vector<std::string_view> block_files_;
	std::unordered_set<std::string_view> exported_;
	mutable std::unordered_map<const elf::Object *, size_t> block_cache_;
};

}  // namespace kp::diffgen
