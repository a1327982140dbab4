#include "helpers.h"

#include <fstream>

namespace kp::test {

int run_command(const std::string &cmd, std::string *output)
{
	kit::RunOptions o;
	o.merge_stderr = true;
	kit::Result r = kit::sh(cmd, o);
	if (output)
		*output = r.out;
	return r.status;
}

std::string compile(const std::filesystem::path &dir, const std::string &name,
                    const std::string &src)
{
	auto c = dir / (name + ".c");
	auto o = dir / (name + ".o");
	std::ofstream(c) << src;
	std::string out;
	int rc = run_command(std::string("gcc ") + kKernelCflags + " -c " + c.string() + " -o " +
	                             o.string(),
	                     &out);
	EXPECT_EQ(rc, 0) << "compiling " << c << " failed:\n" << out;
	return o.string();
}

Pair make_pair_objects(const std::string &test, const std::string &orig_src,
                       const std::string &patched_src)
{
	Pair p;
	p.dir = scratch_dir(test);
	// Same file name in both builds, as in a real tree: build in two subfolders.
	std::filesystem::create_directories(p.dir / "orig");
	std::filesystem::create_directories(p.dir / "patched");
	p.orig = compile(p.dir / "orig", "fixture", orig_src);
	p.patched = compile(p.dir / "patched", "fixture", patched_src);
	p.out = (p.dir / "out.o").string();
	return p;
}

Output read_output(const std::string &path)
{
	Output out;
	out.obj = load_object(path);
	const elf::Object &o = *out.obj;
	for (const auto &s : o.symbols()) {
		if (s->is_item() && s->is_func())
			out.defined_funcs.insert(s->name);
		else if (s->is_item())
			out.defined_objects.insert(s->name);
		else if (s->shndx == SHN_UNDEF && !s->name.empty())
			out.undefined.insert(s->name);
	}
	for (const auto &sec : o.sections())
		out.section_sizes[sec->name] = sec->size();
	read_records(o, out.funcs, out.syms);
	read_relocs(o, out.relocs);
	return out;
}

uint64_t symbol_size(const std::string &obj, const std::string &name)
{
	auto o = load_object(obj);
	for (const auto &s : o->symbols())
		if (s->name == name && s->is_item())
			return s->size;
	ADD_FAILURE() << name << " not in " << obj;
	return 0;
}

std::string joined(const diffgen::Result &r)
{
	std::string s;
	for (const auto &m : r.messages)
		s += m + "\n";
	return s;
}

} // namespace kp::test
