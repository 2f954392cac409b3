// Every public header compiles on its own (the other files of this test include one
// header each, first); this file checks the umbrella header exposes the API names.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <type_traits>

TEST(Headers, UmbrellaExposesTheCoreApi) {
    EXPECT_TRUE((std::is_constructible_v<weft::executor, weft::executor_options>));
    EXPECT_TRUE((std::is_constructible_v<weft::task_group, weft::executor&>));
    EXPECT_FALSE(std::is_copy_constructible_v<weft::executor>);
    EXPECT_FALSE(std::is_copy_constructible_v<weft::task_group>);
    EXPECT_TRUE(std::is_aggregate_v<weft::executor_options>);
    EXPECT_TRUE((std::is_base_of_v<std::runtime_error, weft::executor_shutdown_error>));
}
