// The resolve stage on objects built at test time: a fake "vmlinux" (linked executable with
// exported and non-exported, duplicated local and per-CPU symbols) and a patch object in the
// shape diffgen writes (kp_syms records whose addr is relocated against undefined symbols).
// The proof is a real link: the rewritten object linked against the fake vmlinux's symbols
// must call and point at the non-exported symbols' addresses.
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>

#include <cstring>
#include <map>

#include "elf_file.hpp"
#include "error.hpp"
#include "resolve.hpp"
#include "test_util.hpp"

using namespace kpbtest;

namespace {

const char* kFakeKernelA = R"C(
int anchor_data = 1;
const int __ksymtab_anchor_data = 0;
void anchor_fn(void) {}
const int __ksymtab_anchor_fn = 0;
static void __attribute__((noinline, used)) dup_fn(void) { asm volatile("nop; nop"); }
void __attribute__((noinline)) hidden_fn(void) { asm volatile("nop"); }
void _start(void) { dup_fn(); hidden_fn(); anchor_fn(); }
__attribute__((section(".data..percpu"))) int pcpu_anchor = 3;
const int __ksymtab_pcpu_anchor = 0;
__attribute__((section(".data..percpu"))) int pcpu_hidden = 4;
)C";
const char* kFakeKernelB = R"C(
static void __attribute__((noinline, used)) dup_fn(void) { asm volatile("nop; nop; nop"); }
void call_dup_b(void) { dup_fn(); }
)C";

// What diffgen emits for a patched function calling two non-exported functions.
const char* kPatchObject = R"C(
struct kp_sym_rec { unsigned long objname, name, sympos, addr; };
extern void hidden_fn(void);
extern void dup_fn_2(void);        /* diffgen's undefined symbol for dup_fn,2 */
extern void anchor_fn(void);       /* exported: stays undefined */
void patched_fn(void) { hidden_fn(); dup_fn_2(); anchor_fn(); }
void *patched_ptr = (void *)hidden_fn;
__attribute__((used, section("kp_syms"), aligned(8))) static const struct kp_sym_rec recs[] = {
  { (unsigned long)"vmlinux", (unsigned long)"hidden_fn", 0, (unsigned long)&hidden_fn },
  { (unsigned long)"vmlinux", (unsigned long)"dup_fn", 2, (unsigned long)&dup_fn_2 },
};
)C";

const char* kCflags = "-O2 -fno-pic -fno-pie -fno-asynchronous-unwind-tables -fno-stack-protector";

std::map<std::string, uint64_t> symbols_of(const std::string& path, bool locals) {
  kpb::ElfFile f(path);
  std::map<std::string, uint64_t> out;
  for (const auto& s : kpb::read_symbols(f))
    if (s.sym.st_shndx != SHN_UNDEF && (locals || GELF_ST_BIND(s.sym.st_info) != STB_LOCAL))
      out[s.name] = s.sym.st_value;
  return out;
}

class ResolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir / "a.c", kFakeKernelA);
    write_file(dir / "b.c", kFakeKernelB);
    write_file(dir / "patch.c", kPatchObject);
    ASSERT_EQ(sh("cd " + dir.path() + " && gcc " + kCflags +
                 " -nostdlib -static -no-pie -Wl,--build-id -Wl,--unique=.data..percpu -o vmlinux a.c b.c"), 0);
    ASSERT_EQ(sh("cd " + dir.path() + " && gcc " + kCflags + " -c -o patch.o patch.c"), 0);
    vm = std::make_unique<kpb::VmlinuxSymbols>(kpb::VmlinuxSymbols::load(dir / "vmlinux"));
  }
  // Addresses of the two dup_fn in address order.
  std::vector<uint64_t> dup_addresses() {
    kpb::ElfFile f(dir / "vmlinux");
    std::vector<uint64_t> v;
    for (const auto& s : kpb::read_symbols(f))
      if (s.name == "dup_fn") v.push_back(s.sym.st_value);
    std::sort(v.begin(), v.end());
    return v;
  }
  TempDir dir;
  std::unique_ptr<kpb::VmlinuxSymbols> vm;
};

}  // namespace

TEST_F(ResolveTest, ReadsSymRecords) {
  auto recs = kpb::read_sym_records(dir / "patch.o");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].objname, "vmlinux");
  EXPECT_EQ(recs[0].name, "hidden_fn");
  EXPECT_EQ(recs[0].sympos, 0u);
  EXPECT_EQ(recs[1].name, "dup_fn");
  EXPECT_EQ(recs[1].sympos, 2u);
  EXPECT_NE(recs[0].undef_symbol, recs[1].undef_symbol);
}

TEST_F(ResolveTest, LookupBySymposAndRefusals) {
  auto dups = dup_addresses();
  ASSERT_EQ(dups.size(), 2u);
  EXPECT_EQ(vm->lookup("dup_fn", 1).addr, dups[0]);
  EXPECT_EQ(vm->lookup("dup_fn", 2).addr, dups[1]);
  EXPECT_THROW(vm->lookup("dup_fn", 0), kpb::Error) << "ambiguous without a position";
  EXPECT_THROW(vm->lookup("dup_fn", 3), kpb::Error);
  try {
    vm->lookup("no_such_symbol", 0);
    FAIL();
  } catch (const kpb::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_symbol"), std::string::npos);
  }
  EXPECT_TRUE(vm->exported("anchor_fn"));
  EXPECT_FALSE(vm->exported("hidden_fn"));
}

TEST_F(ResolveTest, PerCpuSymbolsGetAPerCpuAnchor) {
  auto e = vm->lookup("pcpu_hidden", 0);
  EXPECT_TRUE(e.percpu);
  EXPECT_EQ(vm->anchor_for(e).name, "pcpu_anchor");
  auto t = vm->lookup("hidden_fn", 0);
  EXPECT_FALSE(t.percpu);
  EXPECT_NE(vm->anchor_for(t).name, "pcpu_anchor");
}

TEST_F(ResolveTest, RewrittenObjectLinksToTheHiddenAddresses) {
  auto report = kpb::resolve_object(dir / "patch.o", dir / "resolved.o", *vm);
  ASSERT_EQ(report.symbols.size(), 2u);
  EXPECT_GE(report.relocations, 5u);  // 2 calls, 1 pointer, 2 record addr fields

  // No undefined non-exported symbol is left; the exported one still is undefined.
  {
    kpb::ElfFile f(dir / "resolved.o");
    for (const auto& s : kpb::read_symbols(f)) {
      if (s.sym.st_shndx != SHN_UNDEF || s.name.empty()) continue;
      EXPECT_TRUE(vm->exported(s.name)) << s.name << " left undefined";
    }
  }
  // Link at an arbitrary address, taking the fake kernel's symbols as absolute.
  ASSERT_EQ(sh("cd " + dir.path() + " && ld -o linked -e patched_fn -Ttext=0x7000000 "
               "--just-symbols=vmlinux resolved.o"), 0);
  auto vms = symbols_of(dir / "vmlinux", true);
  auto dups = dup_addresses();
  kpb::ElfFile linked(dir / "linked");
  auto ls = symbols_of(dir / "linked", true);

  // kp_syms addr fields hold the addresses of hidden_fn and the second dup_fn.
  Elf_Scn* ks = linked.find_section("kp_syms");
  ASSERT_NE(ks, nullptr);
  Elf_Data* d = elf_getdata(ks, nullptr);
  ASSERT_GE(d->d_size, 64u);
  uint64_t addr0, addr1;
  std::memcpy(&addr0, static_cast<char*>(d->d_buf) + 24, 8);
  std::memcpy(&addr1, static_cast<char*>(d->d_buf) + 32 + 24, 8);
  EXPECT_EQ(addr0, vms.at("hidden_fn"));
  EXPECT_EQ(addr1, dups[1]);

  // The calls in patched_fn land on hidden_fn, dup_fn #2 and anchor_fn.
  Elf_Scn* text = linked.find_section(".text");
  ASSERT_NE(text, nullptr);
  GElf_Shdr tsh = linked.shdr(text);
  Elf_Data* td = elf_getdata(text, nullptr);
  const auto* code = static_cast<const unsigned char*>(td->d_buf);
  uint64_t fn = ls.at("patched_fn");
  std::vector<uint64_t> targets;
  for (uint64_t off = fn - tsh.sh_addr; off + 5 <= td->d_size && targets.size() < 3; ++off) {
    if (code[off] != 0xe8 && code[off] != 0xe9) continue;
    int32_t rel;
    std::memcpy(&rel, code + off + 1, 4);
    targets.push_back(tsh.sh_addr + off + 5 + static_cast<int64_t>(rel));
    off += 4;
  }
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0], vms.at("hidden_fn"));
  EXPECT_EQ(targets[1], dups[1]);
  EXPECT_EQ(targets[2], vms.at("anchor_fn"));
}

TEST_F(ResolveTest, MissingSymbolIsRefusedByName) {
  std::string src = kPatchObject;
  auto p = src.find("\"hidden_fn\", 0");
  src.replace(p, std::strlen("\"hidden_fn\", 0"), "\"gone_fn\", 0");
  write_file(dir / "patch2.c", src);
  ASSERT_EQ(sh("cd " + dir.path() + " && gcc " + kCflags + " -c -o patch2.o patch2.c"), 0);
  try {
    kpb::resolve_object(dir / "patch2.o", dir / "out2.o", *vm);
    FAIL() << "resolved a symbol vmlinux does not have";
  } catch (const kpb::Error& e) {
    EXPECT_NE(std::string(e.what()).find("gone_fn"), std::string::npos) << e.what();
  }
}

TEST_F(ResolveTest, ObjectsWithoutRecordsAreCopiedUnchanged) {
  write_file(dir / "plain.c", "int f(void) { return 1; }\n");
  ASSERT_EQ(sh("cd " + dir.path() + " && gcc -c -o plain.o plain.c"), 0);
  auto r = kpb::resolve_object(dir / "plain.o", dir / "plain-out.o", *vm);
  EXPECT_TRUE(r.symbols.empty());
  EXPECT_EQ(read_file(dir / "plain.o"), read_file(dir / "plain-out.o"));
}
