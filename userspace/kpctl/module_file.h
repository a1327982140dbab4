// What a patch module (.ko) says about itself, read from the file without loading it,
// through kp's shared readers (lib/elf, lib/records): .modinfo, struct module's name, the
// kp_patch record and the kp_funcs / kp_syms / kp_relocs records, whose pointer fields
// are resolved by applying the sections' relocations.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "records/patch_records.h"
#include "support/files.h"

namespace kp::ctl {

// The records as kp's one reader (lib/records) gives them.
using records::CallbackRecord;
using records::FuncRecord;
using records::Pointer;
using records::RelocRecord;
using records::ShadowRecord;
using records::StateRecord;
using records::SymRecord;
using records::ValueRecord;

struct SourceFile {
	std::string file;
	std::string sha256;
};

struct ModuleInfo {
	std::string path;
	std::string name; // module name: struct module's, as the kernel takes it
	std::string vermagic;
	std::string build_id;         // the module's own GNU build ID (its identity)
	std::string vermagic_release; // first word of vermagic
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
	std::vector<CallbackRecord> callbacks;
	std::vector<StateRecord> states;
	std::vector<ShadowRecord> shadows;
	std::vector<ValueRecord> values;    // globals whose new initial value is transferred
	uint64_t rollback_on = 0;           // kp_policy: KP_ROLLBACK_* besides the default
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

// Kernel module names use '_' where file names may use '-' (lib/support).
using kp::support::normalize_module_name;

} // namespace kp::ctl
