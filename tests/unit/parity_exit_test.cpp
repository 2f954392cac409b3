// Process exit (spec/python_parity.md B13, B22): runs parity_exit_helper (its path in
// WEFT_POOL_EXIT_HELPER) in each mode and checks what it printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct outcome {
    std::string output;
    int status = -1;
};

outcome run_helper(const std::string& mode) {
    const char* helper = std::getenv("WEFT_POOL_EXIT_HELPER");
    if (helper == nullptr) return {};
    const std::string command = std::string{helper} + " " + mode;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {};
    outcome out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, pipe) != nullptr) out.output += buf;
    out.status = pclose(pipe);
    return out;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(Parity, B22_exit_runs_the_queue_of_a_pool_shut_down_without_wait) {
    ASSERT_NE(std::getenv("WEFT_POOL_EXIT_HELPER"), nullptr);
    const outcome r = run_helper("exit-after-nowait");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(count(r.output, "task "), 5U) << r.output;
}

TEST(Parity, B22_exit_runs_the_queue_of_a_pool_never_destroyed) {
    const outcome r = run_helper("leaked");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(count(r.output, "task "), 5U) << r.output;
}

TEST(Parity, B13_submit_after_the_exit_hook_is_rejected_as_interpreter_shutdown) {
    const outcome r = run_helper("submit-after-exit");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(count(r.output, "task "), 2U) << r.output;
    EXPECT_NE(r.output.find("rejected: weft::thread_pool_executor::submit: cannot schedule new futures "
                            "after interpreter shutdown"),
              std::string::npos)
        << r.output;
}

}  // namespace
