// What a patch module (.ko) says about itself, read from the file with libelf without
// loading it: .modinfo, the kp_patch record and the kp_funcs / kp_syms / kp_relocs
// records, whose pointer fields are resolved by applying the sections' relocations.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kp::ctl {

// The value of a relocated 64-bit pointer field.
struct Pointer {
	enum class Kind { null, local, external, absolute } kind = Kind::null;
	std::string symbol;  // symbol name (local: nearest symbol; external: undefined symbol)
	int64_t offset = 0;  // from the symbol
	std::string section; // local: the target section
	size_t shndx = 0;    // local: its index
	uint64_t value = 0;  // absolute value without relocation

	std::string describe() const; // "sym", "sym+0x10", "sym-0x4", "0x1234", "(null)"
};

struct SourceFile {
	std::string file;
	std::string sha256;
};

struct FuncRecord {
	std::string object, function;
	uint64_t sympos = 0, old_size = 0, new_size = 0;
	Pointer new_func;
};

struct SymRecord {
	std::string object, symbol;
	uint64_t sympos = 0;
	Pointer expected; // exported anchor + distance, checked by the core at load
};

struct RelocRecord {
	Pointer dest;
	std::string object, symbol;
	uint64_t sympos = 0;
	int64_t addend = 0;
	uint64_t type = 0;
	std::string type_name() const;
};

struct ModuleInfo {
	std::string path;
	std::string name; // module name: struct module's, as the kernel takes it
	std::string vermagic;
	std::string vermagic_release;                             // first word of vermagic
	std::vector<std::pair<std::string, std::string>> modinfo; // in file order

	bool kp_patch = false;   // has the kp_patch record or kp_patch=1
	bool has_record = false; // kp_patch section present and valid
	uint64_t abi_version = 0;
	std::string record_name;     // kp_patch_rec.name
	std::string target_release;  // modinfo kp_target_release, else the record
	std::string target_build_id; // modinfo kp_target_build_id, else the record
	std::vector<SourceFile> sources;
	std::vector<FuncRecord> funcs;
	std::vector<SymRecord> syms;
	std::vector<RelocRecord> relocs;
	std::vector<std::string> undefined; // symbols the module loader must resolve

	std::vector<std::string> modinfo_values(const std::string &key) const;
};

// Reads @path.  Throws Error(file_missing | not_module) for files that are not a
// readable x86_64 kernel module, Error(not_kp_patch) when @require_kp and the module has
// no kp records, or when its records are malformed / of another ABI version.
ModuleInfo read_module(const std::string &path, bool require_kp = true);
// The same, from a module file already open (ModuleFd::open_trusted for a load).
class ModuleFd;
ModuleInfo read_module(const ModuleFd &file, bool require_kp = true);

// Kernel module names use '_' where file names may use '-'.
std::string normalize_module_name(std::string name);

} // namespace kp::ctl
