// weft::task_group: fork-join, helping waits, exceptions, errors.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

class TaskGroupTest : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

long serial_fib(int n) { return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2); }

long fib(weft::executor& ex, int n) {
    if (n < 2) return n;
    long x = 0;
    weft::task_group g{ex};
    g.run([&] { x = fib(ex, n - 1); });
    const long y = fib(ex, n - 2);
    g.wait();
    return x + y;
}

TEST_P(TaskGroupTest, WaitFromOutsideSeesEveryTask) {
    std::atomic<int> count{0};
    weft::task_group g{m_ex};
    for (int i = 0; i < 1000; ++i) g.run([&] { count.fetch_add(1); });
    g.wait();
    EXPECT_EQ(count.load(), 1000);
    EXPECT_TRUE(g.is_done());
}

TEST_P(TaskGroupTest, FibOnWorkersEqualsSerial) {
    long result = 0;
    weft::task_group g{m_ex};
    g.run([&] { result = fib(m_ex, 20); });
    g.wait();
    EXPECT_EQ(result, serial_fib(20));
}

TEST_P(TaskGroupTest, ChildrenMayAddSiblings) {
    std::atomic<int> count{0};
    weft::task_group g{m_ex};
    for (int i = 0; i < 10; ++i)
        g.run([&] {
            for (int j = 0; j < 10; ++j) g.run([&] { count.fetch_add(1); });
        });
    g.wait();
    EXPECT_EQ(count.load(), 100);
}

TEST_P(TaskGroupTest, WaitRethrowsTheExceptionAndTheGroupIsReusable) {
    weft::task_group g{m_ex};
    g.run([] { throw std::runtime_error{"first"}; });
    try {
        g.wait();
        FAIL() << "wait() did not rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }
    std::atomic<int> count{0};
    g.run([&] { count.fetch_add(1); });
    EXPECT_NO_THROW(g.wait());
    EXPECT_EQ(count.load(), 1);
}

TEST_P(TaskGroupTest, RethrowsTheVeryExceptionObject) {
    weft::task_group g{m_ex};
    static const std::runtime_error* thrown = nullptr;
    g.run([] {
        try {
            throw std::runtime_error{"identity"};
        } catch (const std::runtime_error& e) {
            thrown = &e;
            throw;
        }
    });
    try {
        g.wait();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(&e, thrown);
    }
}

TEST_P(TaskGroupTest, NestedWaitsOnWorkersComplete) {
    std::atomic<int> depth_reached{0};
    std::function<void(int)> nest = [&](int d) {
        if (d == 200) {
            depth_reached = d;
            return;
        }
        weft::task_group g{m_ex};
        g.run([&, d] { nest(d + 1); });
        g.wait();
    };
    weft::task_group root{m_ex};
    root.run([&] { nest(0); });
    root.wait();
    EXPECT_EQ(depth_reached.load(), 200);
}

INSTANTIATE_TEST_SUITE_P(Workers, TaskGroupTest, ::testing::Values(1, 2, 4));

TEST(TaskGroup, LaterExceptionsAreCountedAndReported) {
    std::atomic<int> reported{0};
    weft::executor ex{weft::executor_options{
        .workers = 2,
        .unhandled_exception_handler = [&](std::exception_ptr, std::string_view) { reported.fetch_add(1); }}};
    weft::task_group g{ex};
    for (int i = 0; i < 50; ++i) g.run([] { throw std::logic_error{"many"}; });
    EXPECT_THROW(g.wait(), std::logic_error);
    EXPECT_EQ(g.dropped_exception_count(), 49U);
    EXPECT_EQ(reported.load(), 49);
}

TEST(TaskGroup, RejectsEmptyCallablesAndStaysUsable) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    weft::task_group g{ex};
    std::function<void()> empty;
    EXPECT_THROW(g.run(empty), std::invalid_argument);
    int ran = 0;
    g.run([&] { ran = 1; });
    g.wait();
    EXPECT_EQ(ran, 1);
}

TEST(TaskGroup, WaitFromAnotherThreadIsAnError) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    weft::task_group g{ex};
    std::atomic<int> ran{0};
    g.run([&] { ran = 1; });
    bool threw = false;
    std::thread other{[&] {
        try {
            g.wait();
        } catch (const std::logic_error&) {
            threw = true;
        }
    }};
    other.join();
    EXPECT_TRUE(threw);
    g.wait();
    EXPECT_EQ(ran.load(), 1);
}

TEST(TaskGroup, RunAfterShutdownThrowsAndLeavesTheGroupConsistent) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    weft::task_group g{ex};
    ex.shutdown();
    EXPECT_THROW(g.run([] {}), weft::executor_shutdown_error);
    EXPECT_TRUE(g.is_done());
    EXPECT_NO_THROW(g.wait());
}

TEST(TaskGroup, DestructorWaitsForOutstandingTasks) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    std::atomic<int> count{0};
    {
        weft::task_group g{ex};
        for (int i = 0; i < 100; ++i) g.run([&] { count.fetch_add(1); });
    }
    EXPECT_EQ(count.load(), 100);
}

TEST(TaskGroup, OneWorkerRunsDeeplyNestedGroupsWithoutDeadlock) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    std::function<int(int)> chain = [&](int d) -> int {
        if (d == 0) return 0;
        int below = 0;
        weft::task_group g{ex};
        g.run([&] { below = chain(d - 1); });
        g.wait();
        return below + 1;
    };
    int result = 0;
    weft::task_group root{ex};
    root.run([&] { result = chain(1000); });
    root.wait();
    EXPECT_EQ(result, 1000);
}

}  // namespace
