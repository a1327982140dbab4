#include "values.h"

#include "kp/abi.h"
#include "names.h"
#include "references.h"

namespace kp::diffgen {

namespace {

constexpr const char *kMarkSection = ".discard.kp.transfer_value";

bool starts_with(const std::string &s, const char *prefix)
{
	return s.rfind(prefix, 0) == 0;
}

// Why a variable in @sec is not plain writable data, or "" when it is.
std::string not_plain_data(const elf::Section *sec)
{
	const std::string &n = sec->name;
	if (!(sec->flags() & SHF_ALLOC))
		return "it is not in memory at run time (section " + n + ")";
	if (!(sec->flags() & SHF_WRITE))
		return "it is read-only (const or rodata: section " + n + ")";
	if (sec->flags() & SHF_TLS)
		return "it is thread-local (section " + n + ")";
	if (starts_with(n, ".data..percpu"))
		return "it is per-cpu (section " + n + "): each CPU has its own copy";
	if (starts_with(n, ".data..ro_after_init"))
		return "it is __ro_after_init (read-only at run time)";
	if (is_init_section(n))
		return "it is __init data, freed after boot (section " + n + ")";
	return "";
}

std::vector<uint8_t> value_of(const elf::Symbol *s)
{
	if (s->sec->is_nobits())
		return std::vector<uint8_t>(s->size, 0);
	auto b = s->sec->data.begin() + static_cast<std::ptrdiff_t>(s->value);
	return std::vector<uint8_t>(b, b + static_cast<std::ptrdiff_t>(s->size));
}

bool has_relocs(const elf::Symbol *s)
{
	auto [b, e] = s->sec->relocs_in(s->value, s->value + s->size);
	return b != e;
}

} // namespace

TransferMarks transfer_marks(const elf::Object &patched)
{
	TransferMarks m;
	for (const auto &sec : patched.sections()) {
		if (sec->name != kMarkSection)
			continue;
		for (const auto &r : sec->relocs) {
			Target t = resolve(patched, r, false);
			std::string what = t.sym && !t.sym->name.empty() ? t.sym->name : "?";
			if (!t.item || t.item->is_func() || t.delta != 0) {
				m.refusals.push_back(
				        patched.path() + ": KP_TRANSFER_VALUE(" + what +
				        "): not a variable defined in this object; put the mark "
				        "in the file that defines it");
				continue;
			}
			m.items.emplace(t.item->primary(), t.item->name);
		}
	}
	return m;
}

ValueCheck check_value_transfer(const elf::Symbol *o, const elf::Object &patched,
                                const elf::Symbol *p)
{
	ValueCheck c;
	std::string who = patched.path() + ": KP_TRANSFER_VALUE(" + p->name + "): ";
	for (const elf::Symbol *s : {o, p}) {
		std::string why = not_plain_data(s->sec);
		if (!why.empty()) {
			c.refusal = who + "cannot transfer the value: " + why;
			return c;
		}
	}
	if (o->size != p->size) {
		c.refusal = who + "its size changes (" + std::to_string(o->size) + " -> " +
		            std::to_string(p->size) + " bytes): a new layout is not a new value";
		return c;
	}
	if (p->size == 0 || p->size > KP_VALUE_MAX) {
		c.refusal = who + "it is " + std::to_string(p->size) +
		            " bytes; kp transfers values of 1 to " + std::to_string(KP_VALUE_MAX) +
		            " bytes";
		return c;
	}
	if (has_relocs(o) || has_relocs(p)) {
		c.refusal = who + "its value holds an address (a relocation); kp transfers "
		                  "plain data only";
		return c;
	}
	c.transfer = ValueTransfer{o, p, value_of(o), value_of(p)};
	return c;
}

} // namespace kp::diffgen
