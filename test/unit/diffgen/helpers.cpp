#include "helpers.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace kp::test {

namespace {

std::filesystem::path scratch_root()
{
	return std::filesystem::temp_directory_path() /
	       ("kp-diffgen-test-" + std::to_string(getpid()));
}

// Removes this process's scratch folder at exit (KP_KEEP_TEST_FILES=1 keeps it).
struct ScratchCleanup {
	~ScratchCleanup()
	{
		if (!std::getenv("KP_KEEP_TEST_FILES")) {
			std::error_code ec;
			std::filesystem::remove_all(scratch_root(), ec);
		}
	}
} scratch_cleanup;

} // namespace

std::filesystem::path scratch_dir(const std::string &name)
{
	auto dir = scratch_root() / name;
	std::filesystem::remove_all(dir);
	std::filesystem::create_directories(dir);
	return dir;
}

int run_command(const std::string &cmd, std::string *output)
{
	std::string full = cmd + " 2>&1";
	FILE *p = popen(full.c_str(), "r");
	if (!p)
		return -1;
	std::array<char, 4096> buf;
	std::string out;
	size_t n;
	while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
		out.append(buf.data(), n);
	int st = pclose(p);
	if (output)
		*output = out;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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

} // namespace kp::test
