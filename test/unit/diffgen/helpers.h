// Test helpers: compile C fixtures with the kernel's code-generation flags, run diffgen,
// read the output back with the shared ELF model and record views (lib/).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "diffgen.h"
#include "elf/object.h"
#include "kit/kit.h"

namespace kp::test {

// The flags Kbuild uses for x86_64 code generation that matter to diffgen.
inline const char *kKernelCflags = "-O2 -g -ffunction-sections -fdata-sections -pg -mfentry "
                                   "-mrecord-mcount -mcmodel=kernel -fno-pic "
                                   "-mno-red-zone -fno-stack-protector -fno-common "
                                   "-fno-asynchronous-unwind-tables -mno-sse -mno-mmx "
                                   "-mno-sse2 -mno-3dnow -mno-avx -fno-strict-aliasing "
                                   "-fno-delete-null-pointer-checks -fno-jump-tables "
                                   "-nostdinc -fcf-protection=none -mindirect-branch=thunk-extern "
                                   "-mfunction-return=thunk-extern";

using kit::scratch_dir;
// Writes @src to DIR/NAME.c and compiles it to DIR/NAME.o; fails the test on error.
std::string compile(const std::filesystem::path &dir, const std::string &name,
                    const std::string &src);
// Runs @cmd with /bin/sh (the test kit's runner); @output gets stdout and stderr.
int run_command(const std::string &cmd, std::string *output = nullptr);

struct Pair {
	std::filesystem::path dir;
	std::string orig, patched, out;
};
Pair make_pair_objects(const std::string &test, const std::string &orig_src,
                       const std::string &patched_src);

struct FuncRec {
	std::string objname, name, new_func;
	uint64_t sympos, old_size, new_size;
};
struct SymRec {
	std::string objname, name, addr_sym;
	uint64_t sympos;
};

struct RelocRec {
	std::string dest, objname, name; // dest: "<section>+<offset>"
	uint64_t sympos;
	int64_t addend;
	uint64_t type;
};

// What a diffgen output object holds.
struct Output {
	std::set<std::string> defined_funcs;
	std::set<std::string> defined_objects;
	std::set<std::string> undefined;
	std::vector<FuncRec> funcs;
	std::vector<SymRec> syms;
	std::vector<RelocRec> relocs;
	std::map<std::string, uint64_t> section_sizes;
	std::unique_ptr<elf::Object> obj;
};
Output read_output(const std::string &path);
// The ELF model of @path; throws (failing the test) with the reader's message.
std::unique_ptr<elf::Object> load_object(const std::string &path);
// kp_funcs / kp_syms / kp_relocs of @o, as kp::records reads them (records.cpp).
void read_records(const elf::Object &o, std::vector<FuncRec> &funcs, std::vector<SymRec> &syms);
void read_relocs(const elf::Object &o, std::vector<RelocRec> &relocs);

uint64_t symbol_size(const std::string &obj, const std::string &name);

// A diffgen result's messages, one per line (for assertion output and searches).
std::string joined(const diffgen::Result &r);

} // namespace kp::test
