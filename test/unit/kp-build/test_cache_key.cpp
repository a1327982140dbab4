#include <gtest/gtest.h>

#include "cache.h"
#include "kernel_info.h"

namespace {
kp::build::KernelTree sample()
{
	kp::build::KernelTree t;
	t.src = "/tmp"; // exists: its device/inode are part of the identity
	t.release = "6.1.0";
	t.build_id = "136bea46c9307f68bd761b4b221d726898c39827";
	t.host_compiler = "gcc (Debian 12.2.0-14+deb12u1) 12.2.0";
	t.config_text = "CONFIG_64BIT=y\n";
	return t;
}
} // namespace

TEST(CacheKey, StableForTheSameTree)
{
	auto a = kp::build::make_cache_key(sample());
	auto b = kp::build::make_cache_key(sample());
	EXPECT_EQ(a.hex, b.hex);
	EXPECT_EQ(a.hex.size(), 16u);
	EXPECT_NE(a.text.find("source=/tmp"), std::string::npos);
	EXPECT_NE(a.text.find("-ffunction-sections"), std::string::npos);
}

TEST(CacheKey, ChangesWithConfigCompilerSourceAndKernel)
{
	auto base = kp::build::make_cache_key(sample()).hex;
	auto t = sample();
	t.config_text += "CONFIG_SMP=y\n";
	EXPECT_NE(kp::build::make_cache_key(t).hex, base) << ".config";
	t = sample();
	t.host_compiler = "gcc (Debian 12.2.0-14+deb12u2) 12.2.0";
	EXPECT_NE(kp::build::make_cache_key(t).hex, base) << "compiler";
	t = sample();
	t.src = "/";
	EXPECT_NE(kp::build::make_cache_key(t).hex, base) << "source path";
	t = sample();
	t.build_id[0] = '2';
	EXPECT_NE(kp::build::make_cache_key(t).hex, base) << "vmlinux identity";
}

TEST(CompilerIdentity, VmlinuxCommentMatchesGccVersion)
{
	EXPECT_EQ(kp::build::compiler_identity("GCC: (Debian 12.2.0-14+deb12u1) 12.2.0"),
	          kp::build::compiler_identity("gcc (Debian 12.2.0-14+deb12u1) 12.2.0"));
	EXPECT_NE(kp::build::compiler_identity("GCC: (Debian 12.2.0-14+deb12u1) 12.2.0"),
	          kp::build::compiler_identity("gcc (Debian 13.1.0-1) 13.1.0"));
}

TEST(CompilerIdentity, MismatchIsRefusedWithBothVersions)
{
	auto t = sample();
	t.vmlinux = "/x/vmlinux";
	t.vmlinux_compiler = "(Debian 13.1.0-1) 13.1.0";
	try {
		kp::build::check_compiler(t);
		FAIL() << "accepted";
	} catch (const std::exception &e) {
		std::string m = e.what();
		EXPECT_NE(m.find("compiler differs"), std::string::npos) << m;
		EXPECT_NE(m.find("13.1.0"), std::string::npos) << m;
		EXPECT_NE(m.find("12.2.0"), std::string::npos) << m;
	}
	t.vmlinux_compiler = "(Debian 12.2.0-14+deb12u1) 12.2.0";
	EXPECT_NO_THROW(kp::build::check_compiler(t));
}
