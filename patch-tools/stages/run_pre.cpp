#include "run_pre.h"

#include <capstone/capstone.h>

#include <algorithm>
#include <map>
#include <memory>

#include "elf/object.h"
#include "error.h"
#include "target.h"

namespace kp::build {

namespace {

uint64_t reloc_width(uint32_t type)
{
	switch (type) {
	case R_X86_64_64:
	case R_X86_64_PC64: return 8;
	case R_X86_64_NONE: return 0;
	default: return 4; // PC32, PLT32, 32, 32S, GOTPCREL*
	}
}

// Offsets of @sec's bytes its relocations fill in ([begin, end)).
std::vector<std::pair<uint64_t, uint64_t>> relocated_ranges(const kp::elf::Section &sec)
{
	std::vector<std::pair<uint64_t, uint64_t>> out;
	for (const auto &r : sec.relocs) {
		uint64_t w = reloc_width(r.type);
		if (w)
			out.push_back({r.offset, r.offset + w});
	}
	return out;
}

std::unique_ptr<kp::elf::Object> open_elf(const std::string &path, const kp::elf::ReadOptions &o)
{
	auto obj = kp::elf::Object::open(path, o);
	if (!obj)
		throw Error(obj.error().context("run-pre"));
	return std::move(*obj);
}

struct Insn {
	uint64_t offset;
	uint16_t size;
	std::string mnemonic, operands;
	std::vector<uint8_t> bytes;
	int64_t branch = -1; // target offset of a relative branch inside the function
};

class Disassembler {
public:
	Disassembler()
	{
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &h_) != CS_ERR_OK)
			throw Error("capstone: cannot open the x86-64 disassembler");
		cs_option(h_, CS_OPT_DETAIL, CS_OPT_ON);
	}
	~Disassembler() { cs_close(&h_); }
	Disassembler(const Disassembler &) = delete;
	Disassembler &operator=(const Disassembler &) = delete;
	std::vector<Insn> decode(const std::vector<uint8_t> &code) const;

private:
	csh h_ = 0;
};

std::vector<Insn> Disassembler::decode(const std::vector<uint8_t> &code) const
{
	cs_insn *insn = nullptr;
	size_t n = cs_disasm(h_, code.data(), code.size(), 0, 0, &insn);
	std::vector<Insn> out;
	for (size_t i = 0; i < n; ++i) {
		const cs_insn &c = insn[i];
		Insn x{c.address, c.size, c.mnemonic, c.op_str, {c.bytes, c.bytes + c.size}, -1};
		bool rel = cs_insn_group(h_, &c, CS_GRP_JUMP) || cs_insn_group(h_, &c, CS_GRP_CALL);
		const cs_x86 &d = c.detail->x86;
		if (rel && d.op_count == 1 && d.operands[0].type == X86_OP_IMM &&
		    d.operands[0].imm >= 0 &&
		    static_cast<uint64_t>(d.operands[0].imm) < code.size())
			x.branch = d.operands[0].imm;
		out.push_back(std::move(x));
	}
	cs_free(insn, n);
	return out;
}

bool overlaps(const std::vector<std::pair<uint64_t, uint64_t>> &ranges, uint64_t b, uint64_t e)
{
	return std::any_of(ranges.begin(), ranges.end(),
	                   [&](const auto &r) { return r.first < e && b < r.second; });
}

bool bytes_equal_outside(const Insn &a, const Insn &b,
                         const std::vector<std::pair<uint64_t, uint64_t>> &relocated)
{
	if (a.size != b.size)
		return false;
	for (uint16_t k = 0; k < a.size; ++k) {
		uint64_t off = a.offset + k;
		if (!overlaps(relocated, off, off + 1) && a.bytes[k] != b.bytes[k])
			return false;
	}
	return true;
}

size_t index_of(const std::vector<Insn> &v, int64_t offset)
{
	auto it = std::lower_bound(v.begin(), v.end(), offset, [](const Insn &i, int64_t o) {
		return static_cast<int64_t>(i.offset) < o;
	});
	return it != v.end() && static_cast<int64_t>(it->offset) == offset ? it - v.begin()
	                                                                   : SIZE_MAX;
}

bool is_nop(const Insn &i)
{
	return i.mnemonic.rfind("nop", 0) == 0;
}

bool same_instruction(const std::vector<Insn> &a, const std::vector<Insn> &b, size_t i,
                      const FunctionCode &compiled)
{
	const Insn &x = a[i], &y = b[i];
	if (x.size == y.size &&
	    ((x.mnemonic == "jmp" && is_nop(y)) || (is_nop(x) && y.mnemonic == "jmp")) &&
	    std::binary_search(compiled.jump_labels.begin(), compiled.jump_labels.end(), x.offset))
		return true;
	// A relocated instruction first: its placeholder bytes may look like an inside branch.
	if (overlaps(compiled.relocated, x.offset, x.offset + x.size))
		return x.mnemonic == y.mnemonic &&
		       (x.size != y.size || bytes_equal_outside(x, y, compiled.relocated));
	if (x.branch >= 0 && y.branch >= 0)
		return x.mnemonic == y.mnemonic && index_of(a, x.branch) == index_of(b, y.branch);
	return x.bytes == y.bytes;
}

} // namespace

// Where each jump-label site of @obj is: {section, offset}.  A jump_entry starts with the
// site as a 32-bit PC-relative field (arch/x86/include/asm/jump_label.h: .long 1b - .).
std::vector<std::pair<const kp::elf::Section *, uint64_t>>
jump_label_sites(const kp::elf::Object &obj)
{
	std::vector<std::pair<const kp::elf::Section *, uint64_t>> out;
	const kp::elf::Section *jt = obj.section("__jump_table");
	if (!jt)
		return out;
	// Entries are {s32 code, s32 target, long key}: the code fields are every 16 bytes.
	for (const auto &r : jt->relocs) {
		if (r.offset % 16 != 0 || r.type != R_X86_64_PC32 || !r.sym->sec)
			continue;
		int64_t at = r.addend +
		             static_cast<int64_t>(r.sym->type == STT_SECTION ? 0 : r.sym->value);
		if (at >= 0)
			out.push_back({r.sym->sec, static_cast<uint64_t>(at)});
	}
	return out;
}

std::vector<FunctionCode> object_functions(const std::string &path)
{
	auto f = open_elf(path, {});
	auto sites = jump_label_sites(*f);
	std::map<const kp::elf::Section *, std::vector<std::pair<uint64_t, uint64_t>>> ranges;
	std::vector<FunctionCode> out;
	for (const auto &s : f->symbols()) {
		if (!s->is_func() || !s->sec || s->size == 0)
			continue;
		const kp::elf::Section &sec = *s->sec;
		if (s->value + s->size > sec.data.size())
			throw Error(path + ": function " + s->name + " lies outside its section " +
			            sec.name);
		if (!ranges.count(&sec))
			ranges[&sec] = relocated_ranges(sec);
		FunctionCode fc;
		fc.name = s->name;
		fc.weak = s->bind == STB_WEAK;
		fc.bytes.assign(sec.data.begin() + s->value, sec.data.begin() + s->value + s->size);
		for (const auto &r : ranges[&sec])
			if (r.first >= s->value && r.first < s->value + s->size)
				fc.relocated.push_back({r.first - s->value, r.second - s->value});
		for (const auto &[in, at] : sites)
			if (in == &sec && at >= s->value && at < s->value + s->size)
				fc.jump_labels.push_back(at - s->value);
		std::sort(fc.jump_labels.begin(), fc.jump_labels.end());
		out.push_back(std::move(fc));
	}
	return out;
}

ImageFunctions::ImageFunctions(const std::string &image_path) : path_(image_path)
{
	image_ = open_elf(image_path, {.relocatable_only = false, .relocations = false});
	if (!image_->has_symtab())
		throw Error(image_path +
		            ": no symbol table (a stripped image: give the -dbg vmlinux)");
	// A linked image (vmlinux) places functions by address in its text sections; a module
	// (.ko, relocatable) by offset in the symbol's own section.
	std::vector<const kp::elf::Section *> texts;
	for (const auto &sec : image_->sections())
		if (sec->shdr.sh_type == SHT_PROGBITS && sec->is_text() && sec->shdr.sh_addr)
			texts.push_back(sec.get());
	for (const auto &s : image_->symbols()) {
		if (!s->is_func() || !s->size)
			continue;
		const kp::elf::Section *in = nullptr;
		uint64_t offset = 0;
		if (image_->is_relocatable()) {
			in = s->sec && s->sec->is_text() ? s->sec : nullptr;
			offset = s->value;
		} else {
			for (const auto *sec : texts)
				if (s->value >= sec->shdr.sh_addr &&
				    s->value - sec->shdr.sh_addr < sec->data.size()) {
					in = sec;
					offset = s->value - sec->shdr.sh_addr;
				}
		}
		if (in && offset + s->size <= in->data.size())
			syms_.push_back({s->name, s->value, in->data.subspan(offset, s->size)});
	}
	std::sort(syms_.begin(), syms_.end(), [](const Sym &a, const Sym &b) {
		return a.name != b.name ? a.name < b.name : a.addr < b.addr;
	});
}

ImageFunctions::~ImageFunctions() = default;

std::vector<FunctionCode> ImageFunctions::find(const std::string &name) const
{
	std::vector<FunctionCode> out;
	auto it = std::lower_bound(syms_.begin(), syms_.end(), name,
	                           [](const Sym &s, const std::string &n) { return s.name < n; });
	for (; it != syms_.end() && it->name == name; ++it) {
		FunctionCode fc;
		fc.name = name;
		fc.address = it->addr;
		fc.bytes.assign(it->code.begin(), it->code.end());
		out.push_back(std::move(fc));
	}
	return out;
}

RunPreResult compare_code(const FunctionCode &compiled, const FunctionCode &image)
{
	static const Disassembler dis;
	std::vector<Insn> a = dis.decode(compiled.bytes), b = dis.decode(image.bytes);
	RunPreResult r;
	size_t n = std::min(a.size(), b.size());
	for (size_t i = 0; i < n; ++i)
		if (!same_instruction(a, b, i, compiled)) {
			r.instruction = i;
			r.offset = a[i].offset;
			r.compiled = a[i].mnemonic + " " + a[i].operands;
			r.image = b[i].mnemonic + " " + b[i].operands;
			return r;
		}
	if (a.size() != b.size()) {
		r.instruction = n;
		r.offset = n < a.size() ? a[n].offset : compiled.bytes.size();
		r.compiled = n < a.size() ? a[n].mnemonic + " " + a[n].operands : "(end)";
		r.image = n < b.size() ? b[n].mnemonic + " " + b[n].operands : "(end)";
		return r;
	}
	r.match = true;
	return r;
}

RunPreResult run_pre_check(const FunctionCode &compiled, const ImageFunctions &image)
{
	auto candidates = image.find(compiled.name);
	if (candidates.empty())
		throw Error("run-pre: " + compiled.name + " is not a function of " + image.path());
	RunPreResult first;
	for (size_t i = 0; i < candidates.size(); ++i) {
		RunPreResult r = compare_code(compiled, candidates[i]);
		if (r.match)
			return r;
		if (i == 0)
			first = r;
	}
	// A __weak function whose name the image gives to other code was overridden at link
	// time (e.g. kernel/sys.c's arch_prctl_spec_ctrl_get by arch/x86's): not this code.
	first.overridden = compiled.weak;
	return first;
}

std::string RunPreResult::describe() const
{
	if (match)
		return "same code";
	if (overridden)
		return "a weak definition the image overrides with another function";
	char buf[64];
	std::snprintf(buf, sizeof buf, "instruction %zu (+0x%llx): ", instruction,
	              static_cast<unsigned long long>(offset));
	return buf + std::string("compiled '") + compiled + "', image has '" + image + "'";
}

namespace {

bool same_function(const FunctionCode &a, const FunctionCode &b)
{
	return a.bytes == b.bytes && a.relocated == b.relocated;
}

size_t check_object(const PatchObject &obj, const ImageFunctions &image)
{
	std::map<std::string, FunctionCode> after;
	for (auto &f : object_functions(obj.patched))
		after.emplace(f.name, std::move(f));
	std::vector<FunctionCode> before = object_functions(obj.original);
	if (!before.empty() && std::none_of(before.begin(), before.end(), [&](const auto &f) {
		    return !image.find(f.name).empty() && run_pre_check(f, image).match;
	    }))
		throw Error(ErrorKind::unsupported,
		            "the patch changes " + obj.object.substr(0, obj.object.size() - 2) +
		                    ".c, which this kernel's config does not build: none of the " +
		                    std::to_string(before.size()) + " functions of " + obj.object +
		                    " is code of " + image.path());
	size_t checked = 0;
	for (const auto &f : before) {
		auto it = after.find(f.name);
		if (it != after.end() && same_function(f, it->second))
			continue;
		RunPreResult r = run_pre_check(f, image);
		if (!r.match)
			throw Error(ErrorKind::refused,
			            "run-pre: " + f.name + " (" + obj.object +
			                    ") compiled from the source is not the kernel's: " +
			                    r.describe());
		++checked;
	}
	return checked;
}

} // namespace

size_t check_against_images(const std::vector<PatchObject> &objects)
{
	std::map<std::string, std::unique_ptr<ImageFunctions>> images;
	size_t checked = 0;
	for (const auto &obj : objects) {
		auto &image = images[obj.image];
		if (!image)
			image = std::make_unique<ImageFunctions>(obj.image);
		checked += check_object(obj, *image);
	}
	return checked;
}

} // namespace kp::build
