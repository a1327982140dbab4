// kp-build --sign-key/--sign-cert (stages/sign.h): the kernel's scripts/sign-file, built
// from the test kernel's tree (it is configured without CONFIG_MODULE_SIG, so the tool is
// compiled from scripts/sign-file.c), signs copies; the signature verifies with the
// certificate (openssl cms) and not with another one; refusals write nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "error.h"
#include "kit/kit.h"
#include "progress.h"
#include "sign.h"

using namespace kp::build;
using kp::kit::read_file;
using kp::kit::sh;
using kp::kit::TempDir;
using kp::kit::write_file;
namespace fs = std::filesystem;

namespace {

void make_key(const TempDir &d, const std::string &name)
{
	ASSERT_EQ(sh("openssl req -new -nodes -utf8 -sha256 -days 3650 -batch -x509 -subj "
	             "'/CN=kp test " +
	             name + "' -out " + d / (name + ".pem") + " -keyout " + d / (name + ".key") +
	             " 2>/dev/null")
	                  .status,
	          0);
}

// Verifies the kernel-format signature at the end of @signed_file over @original with
// @cert (struct module_signature: its last 4 bytes are the signature's length, big endian).
int verify(const TempDir &d, const std::string &signed_file, const std::string &original,
           const std::string &cert)
{
	std::string py = "import struct,sys\n"
	                 "d=open(sys.argv[1],'rb').read(); m=b'~Module signature appended~\\n'\n"
	                 "assert d.endswith(m)\n"
	                 "n=struct.unpack('>I',d[-len(m)-4:-len(m)])[0]\n"
	                 "end=len(d)-len(m)-12\n"
	                 "open(sys.argv[2],'wb').write(d[end-n:end])\n"
	                 "open(sys.argv[3],'wb').write(d[:end-n])\n";
	write_file(d / "split.py", py);
	if (sh("python3 " + d / "split.py" + " " + signed_file + " " + d / "sig.p7" + " " +
	       d / "content")
	            .status != 0)
		return -1;
	if (read_file(d / "content") != read_file(original))
		return -2;
	return sh("openssl cms -verify -binary -inform DER -in " + d / "sig.p7" + " -content " +
	          d / "content" + " -certfile " + cert + " -nointern -noverify -out /dev/null")
	        .status;
}

} // namespace

TEST(Sign, HashFromTheTreesConfig)
{
	TempDir d;
	EXPECT_EQ(module_sig_hash(d.path()), "sha256");
	write_file(d / ".config", "CONFIG_MODULES=y\nCONFIG_MODULE_SIG_HASH=\"sha512\"\n");
	EXPECT_EQ(module_sig_hash(d.path()), "sha512");
}

TEST(Sign, SignsCopiesThatVerifyWithTheCertificate)
{
	std::string kdir = kp::kit::kernel_tree().string();
	ASSERT_TRUE(fs::exists(kdir + "/scripts/sign-file.c")) << kdir;
	TempDir d;
	make_key(d, "fleet");
	make_key(d, "other");
	ASSERT_EQ(sh("printf 'int f(void){return 1;}' > " + d / "m.c" + " && gcc -c " + d / "m.c" +
	             " -o " + d / "kp-fix.ko && cp " + d / "kp-fix.ko" + " " + d / "kp_core.ko")
	                  .status,
	          0);
	std::string before = read_file(d / "kp-fix.ko");
	Log log;
	SignRequest req{kdir, d / "fleet.key", d / "fleet.pem", d / "work"};
	auto out = sign_modules(req, {d / "kp-fix.ko", d / "kp_core.ko"}, log);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[0], d / "work/signed/kp-fix.ko");
	EXPECT_EQ(out[1], d / "work/signed/kp_core.ko");
	EXPECT_EQ(read_file(d / "kp-fix.ko"), before) << "the original was changed";
	EXPECT_FALSE(has_module_signature(d / "kp-fix.ko"));
	for (const auto &f : out) {
		EXPECT_TRUE(has_module_signature(f)) << f;
		EXPECT_EQ(verify(d, f, d / "kp-fix.ko", d / "fleet.pem"), 0) << f;
		EXPECT_NE(verify(d, f, d / "kp-fix.ko", d / "other.pem"), 0) << f;
	}

	// Refusals: a signed input, a missing key, a key that is not the certificate's.
	try {
		sign_modules(req, {out[0]}, log);
		ADD_FAILURE() << "a signed module was signed again";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("signed already"), std::string::npos)
		        << e.what();
	}
	SignRequest missing{kdir, d / "nokey.key", d / "fleet.pem", d / "work2"};
	try {
		sign_modules(missing, {d / "kp-fix.ko"}, log);
		ADD_FAILURE() << "signed without a key";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find(d / "nokey.key"), std::string::npos)
		        << e.what();
	}
	EXPECT_FALSE(fs::exists(d / "work2/signed/kp-fix.ko"));
	SignRequest mismatch{kdir, d / "other.key", d / "fleet.pem", d / "work3"};
	try {
		sign_modules(mismatch, {d / "kp-fix.ko"}, log);
		ADD_FAILURE() << "signed with a key that is not the certificate's";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("signing " + d / "kp-fix.ko"),
		          std::string::npos)
		        << e.what();
		EXPECT_NE(std::string(e.what()).find("nothing was written"), std::string::npos);
	}
}
