// thread_pool_executor: what a pool keeps alive, and for how long. Thread slots are not
// reserved up front (any positive max_workers, as in Python); a submitted call's
// callable and arguments are destroyed as soon as the call ends -- returned, thrown,
// cancelled by shutdown(cancel_futures=true) or failed by a broken pool -- while its
// future may live on.
#include "parity_support.hpp"

#include <weft/thread_pool_executor.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using weft::thread_pool_executor;
using weft::thread_pool_options;

TEST(ThreadPoolLifetime, a_huge_max_workers_reserves_nothing_and_starts_threads_lazily) {
    thread_pool_executor pool{1'000'000'000};
    EXPECT_EQ(pool.max_workers(), 1'000'000'000);
    EXPECT_EQ(pool.thread_count(), 0U);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(pool.submit([i] { return i * 3; }).result(), i * 3);
    EXPECT_EQ(pool.thread_count(), 1U);  // sequential calls reuse one thread (B5)

    // Calls that overlap get a thread each, and no more.
    weft::test::gate release;
    weft::test::counter started;
    std::vector<weft::future<int>> fs;
    for (int i = 0; i < 4; ++i)
        fs.push_back(pool.submit([&, i] {
            started.add();
            release.wait();
            return i;
        }));
    ASSERT_TRUE(started.wait_for_at_least(4));
    EXPECT_EQ(pool.thread_count(), 4U);
    release.open();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(), i);
    EXPECT_EQ(pool.thread_count(), 4U);
}

TEST(ThreadPoolLifetime, captures_are_released_right_after_the_call_returns) {
    thread_pool_executor pool{2};
    auto token = std::make_shared<int>(7);
    std::weak_ptr<int> watch = token;
    auto f = pool.submit([t = std::move(token)] { return *t; });
    EXPECT_EQ(f.result(), 7);
    EXPECT_TRUE(watch.expired()) << "the callable outlived its call while the future is held";

    // Arguments too, and for a void call.
    auto arg = std::make_shared<std::string>("x");
    std::weak_ptr<std::string> watch_arg = arg;
    auto g =
        pool.submit([](const std::shared_ptr<std::string>& s) { (void)s->size(); }, std::move(arg));
    g.result();
    EXPECT_TRUE(watch_arg.expired());
}

TEST(ThreadPoolLifetime, captures_are_released_right_after_the_call_throws) {
    thread_pool_executor pool{1};
    auto token = std::make_shared<int>(1);
    std::weak_ptr<int> watch = token;
    auto f = pool.submit([t = std::move(token)]() -> int { throw std::runtime_error("boom"); });
    EXPECT_THROW(f.result(), std::runtime_error);
    EXPECT_TRUE(watch.expired());
}

TEST(ThreadPoolLifetime, captures_of_a_call_claimed_by_a_waiting_pool_thread_are_released) {
    thread_pool_executor pool{1};
    auto outer = pool.submit([&pool] {
        auto token = std::make_shared<int>(5);
        std::weak_ptr<int> watch = token;
        auto inner = pool.submit([t = std::move(token)] { return *t; });
        const int v = inner.result();  // run here, nested (B25)
        return v == 5 && watch.expired();
    });
    EXPECT_TRUE(outer.result());
}

TEST(ThreadPoolLifetime, captures_of_calls_cancelled_by_shutdown_are_released_when_it_returns) {
    weft::test::held_pool held;
    auto& [release, started, pool, running] = held;
    auto token = std::make_shared<int>(3);
    std::weak_ptr<int> watch = token;
    auto queued = pool.submit([t = std::move(token)] { return *t; });
    ASSERT_TRUE(started.wait_for_at_least(1));
    pool.shutdown(/*wait=*/false, /*cancel_futures=*/true);
    EXPECT_TRUE(queued.cancelled());
    EXPECT_TRUE(watch.expired());

    // A call the user cancelled while queued: released when the pool dequeues it.
    auto token2 = std::make_shared<int>(4);
    std::weak_ptr<int> watch2 = token2;
    thread_pool_executor other{1};
    weft::test::gate hold;
    auto blocker = other.submit([&] { hold.wait(); });
    auto cancelled = other.submit([t = std::move(token2)] { return *t; });
    EXPECT_TRUE(cancelled.cancel());
    hold.open();
    blocker.result();
    other.shutdown();
    EXPECT_TRUE(watch2.expired());
}

TEST(ThreadPoolLifetime, captures_of_calls_failed_by_a_broken_pool_are_released) {
    thread_pool_executor pool{thread_pool_options{
        .max_workers = 1, .initializer = [] { throw std::runtime_error("init failed"); }}};
    auto token = std::make_shared<int>(9);
    std::weak_ptr<int> watch = token;
    // The first submit always queues (its thread starts after the push, B14).
    auto f = pool.submit([t = std::move(token)] { return *t; });
    EXPECT_THROW(f.result(), weft::broken_thread_pool);
    EXPECT_TRUE(watch.expired());
}

}  // namespace
