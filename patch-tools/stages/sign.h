// Signing (kp-build --sign-key KEY --sign-cert CERT): the patch module and its kp_core.ko
// get the kernel's own module signature (scripts/sign-file), so that a kernel that
// enforces signatures (module.sig_enforce=1, CONFIG_MODULE_SIG_FORCE, lockdown under
// Secure Boot) loads them once CERT is trusted (built in, or enrolled as a MOK).
#pragma once
#include <string>
#include <vector>

namespace kp::build {

class Log;

struct SignRequest {
	std::string kdir; // the tree the modules are linked against (scripts/, .config)
	std::string key;  // private key (PEM), or a PKCS#11 URI
	std::string cert; // X.509 certificate (PEM or DER) of that key
	std::string work; // where the signed copies and a compiled sign-file go
};

// The tree's CONFIG_MODULE_SIG_HASH (e.g. "sha512"), else "sha256".
std::string module_sig_hash(const std::string &kdir);

// <kdir>/scripts/sign-file when it is built (a tree with CONFIG_MODULE_SIG, Debian's
// linux-kbuild), else scripts/sign-file.c of the tree compiled into @work (libcrypto).
// Throws Error when neither is possible.
std::string sign_file_tool(const std::string &kdir, const std::string &work, Log &log);

// True when @file ends with the kernel's module signature marker.
bool has_module_signature(const std::string &file);

// Signed copies of @files in <work>/signed/ (the originals, e.g. the cached kp_core.ko, are
// never changed), in the same order.  Throws Error naming the file and sign-file's
// message when signing fails (nothing is written to the output then).
std::vector<std::string> sign_modules(const SignRequest &req, const std::vector<std::string> &files,
                                      Log &log);

} // namespace kp::build
