#include "sign.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "error.h"
#include "process.h"
#include "support/files.h"

namespace fs = std::filesystem;

namespace kp::build {

namespace {

// MODULE_SIG_STRING of include/linux/module_signature.h.
constexpr std::string_view sig_marker = "~Module signature appended~\n";

std::string tail_of(const std::string &output)
{
	std::string t = output.size() > 600 ? output.substr(output.size() - 600) : output;
	while (!t.empty() && (t.back() == '\n' || t.back() == ' '))
		t.pop_back();
	return t;
}

} // namespace

std::string module_sig_hash(const std::string &kdir)
{
	std::ifstream in(kdir + "/.config");
	for (std::string l; std::getline(in, l);) {
		const std::string key = "CONFIG_MODULE_SIG_HASH=\"";
		if (l.rfind(key, 0) == 0 && l.size() > key.size() + 1 && l.back() == '"')
			return l.substr(key.size(), l.size() - key.size() - 1);
	}
	return "sha256";
}

std::string sign_file_tool(const std::string &kdir, const std::string &work, Log &log)
{
	std::string built = kdir + "/scripts/sign-file";
	if (::access(built.c_str(), X_OK) == 0)
		return built;
	std::string src = kdir + "/scripts/sign-file.c";
	if (!fs::exists(src))
		throw Error(ErrorKind::failed,
		            "--sign-key: the tree " + kdir +
		                    " has neither scripts/sign-file nor scripts/sign-file.c to "
		                    "build it from; nothing was written");
	fs::create_directories(work);
	std::string out = work + "/sign-file";
	auto r = run_process({"gcc", "-O2", "-o", out, src, "-lcrypto"}, {}, &log);
	if (r.status != 0)
		throw Error(ErrorKind::failed, "--sign-key: building " + src +
		                                       " failed (libssl-dev installed?): " +
		                                       tail_of(r.output) + "; nothing was written");
	return out;
}

bool has_module_signature(const std::string &file)
{
	std::ifstream in(file, std::ios::binary | std::ios::ate);
	auto size = static_cast<std::streamoff>(in.tellg());
	if (!in || size < static_cast<std::streamoff>(sig_marker.size()))
		return false;
	std::string end(sig_marker.size(), '\0');
	in.seekg(size - static_cast<std::streamoff>(sig_marker.size()));
	in.read(end.data(), static_cast<std::streamsize>(end.size()));
	return in && end == sig_marker;
}

std::vector<std::string> sign_modules(const SignRequest &req, const std::vector<std::string> &files,
                                      Log &log)
{
	for (const auto &f : {req.key, req.cert})
		if (f.rfind("pkcs11:", 0) != 0 && !fs::is_regular_file(f))
			throw Error(ErrorKind::io, "--sign-key/--sign-cert: " + f +
			                                   " is not a readable file; nothing was "
			                                   "written");
	std::string tool = sign_file_tool(req.kdir, req.work, log);
	std::string hash = module_sig_hash(req.kdir);
	std::string dir = req.work + "/signed";
	fs::create_directories(dir);
	std::vector<std::string> out;
	for (const auto &f : files) {
		if (has_module_signature(f))
			throw Error(ErrorKind::failed,
			            f + " is signed already; nothing was written");
		std::string copy = dir + "/" + fs::path(f).filename().string();
		fs::copy_file(f, copy, fs::copy_options::overwrite_existing);
		auto r = run_process({tool, hash, req.key, req.cert, copy}, {}, &log);
		if (r.status != 0 || !has_module_signature(copy))
			throw Error(ErrorKind::failed, "signing " + f + " with " + req.key +
			                                       " and " + req.cert +
			                                       " failed: " + tail_of(r.output) +
			                                       "; nothing was written");
		out.push_back(copy);
	}
	return out;
}

} // namespace kp::build
