// thread_pool_executor's executor_like members: post(f), fire-and-forget, and
// running_in_this_thread().
#include "parity_support.hpp"

#include <weft/future.hpp>
#include <weft/thread_pool_executor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

using weft::thread_pool_executor;
using weft::thread_pool_options;

static_assert(weft::executor_like<thread_pool_executor>);

TEST(ThreadPoolPost, runs_the_call_on_a_pool_thread_in_fifo_order_with_submit) {
    thread_pool_executor pool{1};
    std::atomic<int> step{0};
    std::atomic<bool> on_pool{false};
    pool.post([&] {
        on_pool = pool.running_in_this_thread();
        step.store(1);
    });
    // One thread, one FIFO: the submitted call starts after the posted one ended.
    EXPECT_EQ(pool.submit([&] { return step.load(); }).result(), 1);
    EXPECT_TRUE(on_pool.load());
    EXPECT_EQ(pool.thread_count(), 1U);
}

TEST(ThreadPoolPost, an_exception_is_reported_on_stderr_and_ignored) {
    thread_pool_executor pool{1};
    testing::internal::CaptureStderr();
    pool.post([] { throw std::runtime_error("boom"); });
    pool.post([]() -> int { throw 42; });
    const int after = pool.submit([] { return 5; }).result();  // the thread survived
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(after, 5);
    EXPECT_NE(err.find("weft: thread_pool_executor: exception in a posted call: boom"),
              std::string::npos)
        << err;
    EXPECT_NE(
        err.find("weft: thread_pool_executor: exception in a posted call (not a std::exception)"),
        std::string::npos)
        << err;
    EXPECT_EQ(pool.thread_count(), 1U);
}

TEST(ThreadPoolPost, the_callable_is_destroyed_right_after_the_call) {
    thread_pool_executor pool{1};
    auto token = std::make_shared<int>(1);
    std::weak_ptr<int> watch = token;
    std::atomic<int> seen{0};
    pool.post([t = std::move(token), &seen] { seen.store(*t); });
    pool.submit([] {}).result();  // the posted item was freed before this one was taken
    EXPECT_EQ(seen.load(), 1);
    EXPECT_TRUE(watch.expired());
}

TEST(ThreadPoolPost, an_empty_callable_is_invalid_argument) {
    thread_pool_executor pool{1};
    try {
        pool.post(std::function<void()>{});
        ADD_FAILURE() << "an empty callable was posted";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "weft::thread_pool_executor::post: empty callable");
    }
    void (*null_fn)() = nullptr;
    EXPECT_THROW(pool.post(null_fn), std::invalid_argument);
    EXPECT_EQ(pool.thread_count(), 0U);
}

TEST(ThreadPoolPost, after_shutdown_it_throws_executor_shutdown_error_naming_post) {
    thread_pool_executor pool{1};
    pool.shutdown();
    auto token = std::make_shared<int>(1);
    std::weak_ptr<int> watch = token;
    try {
        pool.post([t = std::move(token)] {});
        ADD_FAILURE() << "post after shutdown accepted";
    } catch (const weft::executor_shutdown_error& e) {
        EXPECT_STREQ(
            e.what(),
            "weft::thread_pool_executor::post: cannot schedule new futures after shutdown");
    }
    EXPECT_TRUE(watch.expired());  // the refused item was freed
}

TEST(ThreadPoolPost, shutdown_with_cancel_futures_drops_queued_posts_unrun) {
    weft::test::held_pool held;
    auto& [release, started, pool, running] = held;
    std::atomic<int> ran{0};
    auto token = std::make_shared<int>(1);
    std::weak_ptr<int> watch = token;
    pool.post([t = std::move(token), &ran] { ran.fetch_add(*t); });
    ASSERT_TRUE(started.wait_for_at_least(1));
    pool.shutdown(/*wait=*/false, /*cancel_futures=*/true);
    EXPECT_TRUE(watch.expired());
    release.open();
    pool.shutdown();
    EXPECT_EQ(ran.load(), 0);
}

TEST(ThreadPoolPost, on_a_broken_pool_queued_posts_are_dropped_and_later_ones_throw) {
    thread_pool_executor pool{
        thread_pool_options{.max_workers = 1, .initializer = [] { throw 1; }}};
    std::atomic<int> ran{0};
    pool.post([&] { ran.fetch_add(1); });  // the first always queues (B14)
    EXPECT_THROW(pool.submit([] {}).result(), weft::broken_thread_pool);
    EXPECT_THROW(pool.post([&] { ran.fetch_add(1); }), weft::broken_thread_pool);
    pool.shutdown();
    EXPECT_EQ(ran.load(), 0);
}

TEST(ThreadPoolPost, running_in_this_thread_is_true_only_on_the_pools_own_threads) {
    thread_pool_executor pool{2};
    thread_pool_executor other{1};
    EXPECT_FALSE(pool.running_in_this_thread());
    EXPECT_TRUE(pool.submit([&] { return pool.running_in_this_thread(); }).result());
    EXPECT_FALSE(other.submit([&] { return pool.running_in_this_thread(); }).result());
    EXPECT_TRUE(other.submit([&] { return other.running_in_this_thread(); }).result());
    // Also inside a call a waiting pool thread runs itself (B25).
    thread_pool_executor one{1};
    auto nested = one.submit(
        [&] { return one.submit([&] { return one.running_in_this_thread(); }).result(); });
    EXPECT_TRUE(nested.result());
    static_assert(noexcept(pool.running_in_this_thread()));
}

TEST(ThreadPoolPost, the_pool_serves_as_an_executor_for_async_and_then) {
    thread_pool_executor pool{2};
    auto f = weft::async(pool, [&] { return pool.running_in_this_thread() ? 20 : -1; });
    auto g = f.then(pool, [&](int v) { return pool.running_in_this_thread() ? v + 1 : -1; });
    EXPECT_EQ(g.get(), 21);
}

}  // namespace
