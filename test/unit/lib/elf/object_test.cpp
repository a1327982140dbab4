// lib/elf: an object written with Writer and read back with Object is the same object
// (sections, symbols, relocations, notes), and what cannot be read is an Error value
// naming the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "elf/object.h"
#include "elf/writer.h"
#include "objects.h"

using kp::ErrorKind;
using kp::elf::Object;
using kp::elf::Writer;
using kp::kit::TempDir;
using namespace kp::libtest;
using namespace std::literals;

namespace {

const kp::elf::Symbol *symbol(const Object &o, const std::string &name)
{
	for (const auto &s : o.symbols())
		if (s->name == name)
			return s.get();
	return nullptr;
}

// A GNU build-ID note (type 3) with @id as its descriptor.
std::vector<uint8_t> build_id_note(const std::vector<uint8_t> &id)
{
	std::vector<uint8_t> n;
	auto u32 = [&](uint32_t v) {
		for (int i = 0; i < 4; i++)
			n.push_back(static_cast<uint8_t>(v >> (8 * i)));
	};
	u32(4);
	u32(static_cast<uint32_t>(id.size()));
	u32(3);
	for (char c : std::string("GNU\0", 4))
		n.push_back(static_cast<uint8_t>(c));
	n.insert(n.end(), id.begin(), id.end());
	while (n.size() % 4)
		n.push_back(0);
	return n;
}

// foo and bar in .text (bar calls printk, reads state), counter and state in .data,
// two strings, a build ID, the file name obj.c.
Writer sample()
{
	Writer w;
	size_t text = w.add_section(
	        ".text", SHT_PROGBITS, kText, 16, 0,
	        {0xe8, 0, 0, 0, 0, 0xc3, 0x90, 0x90, 0x8b, 0x05, 0, 0, 0, 0, 0xc3, 0x90});
	size_t data = w.add_section(".data", SHT_PROGBITS, kData, 8, 0, std::vector<uint8_t>(16));
	size_t str =
	        w.add_section(".rodata.str1.1", SHT_PROGBITS, SHF_ALLOC | SHF_MERGE | SHF_STRINGS,
	                      1, 1, bytes("vmlinux\0foo\0"sv));
	w.add_section(".note.gnu.build-id", SHT_NOTE, SHF_ALLOC, 4, 0,
	              build_id_note({0xde, 0xad, 0xbe, 0xef}));
	w.add_symbol("obj.c", STT_FILE, STB_LOCAL, SHN_ABS, 0, 0);
	w.add_symbol("foo", STT_FUNC, STB_GLOBAL, text, 0, 8);
	w.add_symbol("bar", STT_FUNC, STB_GLOBAL, text, 8, 8);
	w.add_symbol("counter", STT_OBJECT, STB_GLOBAL, data, 0, 8);
	auto state = w.add_symbol("state", STT_OBJECT, STB_LOCAL, data, 8, 8);
	auto printk = w.add_symbol("printk", STT_NOTYPE, STB_GLOBAL, SHN_UNDEF, 0, 0);
	w.add_reloc(text, 10, R_X86_64_PC32, state, -4);
	w.add_reloc(text, 1, R_X86_64_PLT32, printk, -4);
	w.section_symbol(str);
	return w;
}

} // namespace

TEST(ElfObject, RoundTripKeepsSections)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	EXPECT_TRUE(o->is_relocatable());
	EXPECT_EQ(o->type(), ET_REL);
	EXPECT_EQ(o->path(), d / "t.o");
	const auto *text = o->section(".text");
	ASSERT_TRUE(text);
	EXPECT_TRUE(text->is_text());
	EXPECT_EQ(text->size(), 16u);
	EXPECT_EQ(text->shdr.sh_addralign, 16u);
	EXPECT_EQ(text->data[0], 0xe8);
	EXPECT_EQ(text->data[14], 0xc3);
	const auto *data = o->section(".data");
	ASSERT_TRUE(data);
	EXPECT_FALSE(data->is_text());
	EXPECT_EQ(data->flags(), kData);
	EXPECT_EQ(o->section(".nothing"), nullptr);
	EXPECT_EQ(o->sections()[text->index].get(), text);
	EXPECT_EQ(o->loaded_section(".data"), data);
}

TEST(ElfObject, RoundTripKeepsSymbols)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	ASSERT_TRUE(o->has_symtab());
	EXPECT_EQ(o->file_name(), "obj.c");
	const auto *foo = symbol(*o, "foo");
	const auto *state = symbol(*o, "state");
	const auto *printk = symbol(*o, "printk");
	ASSERT_TRUE(foo && state && printk);
	EXPECT_TRUE(foo->is_func());
	EXPECT_FALSE(foo->is_local());
	EXPECT_EQ(foo->value, 0u);
	EXPECT_EQ(foo->size, 8u);
	EXPECT_EQ(foo->sec, o->section(".text"));
	EXPECT_TRUE(state->is_object());
	EXPECT_TRUE(state->is_local());
	EXPECT_EQ(state->value, 8u);
	EXPECT_TRUE(printk->is_undefined());
	EXPECT_FALSE(printk->is_defined());
	// ELF wants the locals first: the writer orders them so whatever the order given.
	size_t last_local = 0, first_global = SIZE_MAX;
	for (const auto &s : o->symbols())
		if (s->is_local())
			last_local = std::max(last_local, s->index);
		else
			first_global = std::min(first_global, s->index);
	EXPECT_LT(last_local, first_global);
	EXPECT_EQ(o->symbols()[state->index].get(), state);
}

TEST(ElfObject, ItemsOfASectionAndTheItemAtAnOffset)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	const auto *text = o->section(".text");
	ASSERT_EQ(text->items.size(), 2u);
	EXPECT_EQ(text->items[0]->name, "foo");
	EXPECT_EQ(text->items[1]->name, "bar");
	EXPECT_EQ(o->item_at(text, 0)->name, "foo");
	EXPECT_EQ(o->item_at(text, 7)->name, "foo");
	EXPECT_EQ(o->item_at(text, 8)->name, "bar");
	EXPECT_EQ(o->item_at(text, 16), nullptr);
	ASSERT_TRUE(o->item_at(text, 16, true));
	EXPECT_EQ(o->item_at(text, 16, true)->name, "bar");
}

TEST(ElfObject, RoundTripKeepsRelocationsInOffsetOrder)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	const auto *text = o->section(".text");
	ASSERT_TRUE(text->rela);
	EXPECT_EQ(text->rela->base, text);
	EXPECT_EQ(text->rela->name, ".rela.text");
	ASSERT_EQ(text->relocs.size(), 2u);
	const auto &call = text->relocs[0];
	EXPECT_EQ(call.offset, 1u);
	EXPECT_EQ(call.type, static_cast<uint32_t>(R_X86_64_PLT32));
	EXPECT_EQ(call.sym->name, "printk");
	EXPECT_EQ(call.addend, -4);
	const auto &load = text->relocs[1];
	EXPECT_EQ(load.offset, 10u);
	EXPECT_EQ(load.sym->name, "state");
	EXPECT_TRUE(kp::elf::is_pcrel(load.type));
	EXPECT_FALSE(kp::elf::is_pcrel(R_X86_64_64));
	EXPECT_STREQ(kp::elf::reloc_type_name(load.type), "R_X86_64_PC32");
	auto [b, e] = text->relocs_in(8, 16);
	ASSERT_EQ(e - b, 1);
	EXPECT_EQ(b->sym->name, "state");
	auto [b2, e2] = text->relocs_in(2, 8);
	EXPECT_EQ(b2, e2);
	EXPECT_EQ(o->section(".data")->rela, nullptr);
}

TEST(ElfObject, StringsAndNotes)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	const auto *str = o->section(".rodata.str1.1");
	ASSERT_TRUE(str);
	EXPECT_TRUE(str->is_strings());
	ASSERT_TRUE(str->secsym);
	auto all = str->strings();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_EQ(all[0], "vmlinux");
	EXPECT_EQ(all[1], "foo");
	EXPECT_EQ(str->string_at(8), "foo");
	EXPECT_EQ(str->string_at(12), std::nullopt);
	EXPECT_EQ(o->build_id(), "deadbeef");
	ASSERT_EQ(o->notes().size(), 1u);
	EXPECT_EQ(o->notes()[0].name, "GNU");
	// A truncated note ends the list rather than reading past it.
	auto note = build_id_note({1, 2, 3, 4});
	EXPECT_EQ(kp::elf::gnu_build_id(kp::elf::parse_notes(note)), "01020304");
	note.resize(note.size() - 2);
	EXPECT_TRUE(kp::elf::parse_notes(note).empty());
}

TEST(ElfObject, TheSameBytesReadFromMemory)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	auto m = Object::from_bytes("mem.o", {o->bytes().begin(), o->bytes().end()});
	ASSERT_TRUE(m) << m.error().message();
	EXPECT_EQ((*m)->path(), "mem.o");
	ASSERT_EQ((*m)->sections().size(), o->sections().size());
	for (size_t i = 1; i < o->sections().size(); i++)
		EXPECT_EQ((*m)->sections()[i]->name, o->sections()[i]->name);
	EXPECT_EQ((*m)->symbols().size(), o->symbols().size());
	EXPECT_EQ((*m)->section(".text")->relocs.size(), 2u);
}

// A module as Debian's 6.12 ships it (.ko.xz, compressed by the xz tool) reads as the ELF
// file it holds; one cut short is one format error naming the file; gzip is refused.
TEST(ElfObject, AnXzCompressedFileReadsAsTheObjectItHolds)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	std::vector<uint8_t> plain(o->bytes().begin(), o->bytes().end());
	kp::kit::write_file(d / "m.ko", std::string(plain.begin(), plain.end()));
	ASSERT_EQ(std::system(("xz --check=crc32 -k -- " + d / "m.ko").c_str()), 0);
	auto x = Object::open(d / "m.ko.xz");
	ASSERT_TRUE(x) << x.error().message();
	EXPECT_EQ((*x)->path(), d / "m.ko.xz");
	EXPECT_TRUE(
	        std::equal((*x)->bytes().begin(), (*x)->bytes().end(), plain.begin(), plain.end()));
	EXPECT_EQ((*x)->section(".text")->relocs.size(), 2u);

	std::string xz = kp::kit::read_file(d / "m.ko.xz");
	kp::kit::write_file(d / "cut.ko.xz", xz.substr(0, xz.size() / 2));
	auto cut = Object::open(d / "cut.ko.xz");
	ASSERT_FALSE(cut);
	EXPECT_EQ(cut.error().kind(), ErrorKind::format);
	EXPECT_EQ(cut.error().message().rfind(d / "cut.ko.xz" + ": does not decompress as xz: ", 0),
	          0u)
	        << cut.error().message();
	EXPECT_EQ(cut.error().message().find('\n'), std::string::npos);

	ASSERT_EQ(std::system(("gzip -k -- " + d / "m.ko").c_str()), 0);
	auto gz = Object::open(d / "m.ko.gz");
	ASSERT_FALSE(gz);
	EXPECT_EQ(gz.error().kind(), ErrorKind::unsupported);
	EXPECT_NE(gz.error().message().find("compressed with gzip"), std::string::npos)
	        << gz.error().message();
}

TEST(ElfObjectErrors, MissingFileIsAnIoError)
{
	auto r = Object::open("/nonexistent/kp-elf-test.o");
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), ErrorKind::io);
	EXPECT_NE(r.error().message().find("/nonexistent/kp-elf-test.o"), std::string::npos)
	        << r.error().message();
}

TEST(ElfObjectErrors, NotElfIsAFormatErrorNamingTheFile)
{
	TempDir d;
	kp::kit::write_file(d / "text.o", std::string(200, 'x'));
	auto r = Object::open(d / "text.o");
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), ErrorKind::format);
	EXPECT_EQ(r.error().message(), d / "text.o" + ": not an ELF object");
	auto tiny = Object::from_bytes("tiny.o", {0x7f, 'E', 'L', 'F'});
	ASSERT_FALSE(tiny);
	EXPECT_EQ(tiny.error().kind(), ErrorKind::format);
	EXPECT_NE(tiny.error().message().find("tiny.o: not an ELF object (file too small"),
	          std::string::npos)
	        << tiny.error().message();
}

TEST(ElfObjectErrors, TruncatedObjectIsAFormatError)
{
	TempDir d;
	auto o = write_and_read(sample(), d);
	ASSERT_TRUE(o);
	std::vector<uint8_t> all(o->bytes().begin(), o->bytes().end());
	for (size_t keep : {size_t(64), all.size() / 2, all.size() - 1}) {
		std::vector<uint8_t> cut(all.begin(), all.begin() + static_cast<long>(keep));
		auto r = Object::from_bytes("cut.o", cut);
		ASSERT_FALSE(r) << "read " << keep << " of " << all.size() << " bytes";
		EXPECT_EQ(r.error().kind(), ErrorKind::format) << r.error().message();
		EXPECT_EQ(r.error().message().rfind("cut.o: ", 0), 0u) << r.error().message();
	}
}

TEST(ElfObjectErrors, ALinkedImageIsRefusedUnlessAsked)
{
	auto r = Object::open("/bin/sh");
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind(), ErrorKind::format);
	EXPECT_NE(r.error().message().find("not a relocatable object"), std::string::npos)
	        << r.error().message();
	auto any = Object::open("/bin/sh", {.relocatable_only = false, .relocations = false});
	ASSERT_TRUE(any) << any.error().message();
	EXPECT_FALSE((*any)->is_relocatable());
}

TEST(ElfWriter, AnUnwritablePathIsAnError)
{
	auto r = sample().write("/nonexistent/dir/t.o");
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message().find("/nonexistent/dir/t.o"), std::string::npos)
	        << r.error().message();
}
