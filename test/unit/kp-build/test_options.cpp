// kp-build's command-line values: the replace set name (issue 27).
#include <gtest/gtest.h>

#include <kp/abi.h>
#include <string>

#include "options.h"

using kp::build::valid_set_name;

TEST(Options, SetNamesAreShortPlainWords)
{
	EXPECT_TRUE(valid_set_name("default-2"));
	EXPECT_TRUE(valid_set_name("fleet_web.v1"));
	EXPECT_TRUE(valid_set_name(std::string(KP_SET_NAME_MAX, 'a')));
	EXPECT_FALSE(valid_set_name(""));
	EXPECT_FALSE(valid_set_name(std::string(KP_SET_NAME_MAX + 1, 'a')));
	EXPECT_FALSE(valid_set_name("two words"));
	EXPECT_FALSE(valid_set_name("a/b"));
	EXPECT_FALSE(valid_set_name("quote\""));
}
