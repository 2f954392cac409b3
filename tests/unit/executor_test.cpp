// weft::executor basics: posting, naming, errors, lifetime, statistics.
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace {

using namespace std::chrono_literals;

class ExecutorTest : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor_options options() const { return {.workers = GetParam()}; }
};

// Waits (without sleeping blindly) until `pred` holds; fails after a generous deadline
// instead of hanging the suite.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

TEST_P(ExecutorTest, RunsEveryPostedTaskOnce) {
    constexpr int n = 10000;
    std::vector<std::atomic<int>> runs(n);
    {
        weft::executor ex{options()};
        for (int i = 0; i < n; ++i) ex.post([&runs, i] { runs[i].fetch_add(1); });
    }  // the destructor drains
    for (int i = 0; i < n; ++i) ASSERT_EQ(runs[i].load(), 1) << "task " << i;
}

TEST_P(ExecutorTest, WorkerCountAndStatsMatchOptions) {
    weft::executor ex{options()};
    EXPECT_EQ(ex.worker_count(), GetParam());
    const auto stats = ex.stats();
    ASSERT_EQ(stats.size(), GetParam());
    for (std::size_t i = 0; i < stats.size(); ++i) EXPECT_EQ(stats[i].index, i);
}

TEST_P(ExecutorTest, StatsCountExecutedAndInjectedTasks) {
    constexpr int n = 5000;
    weft::executor ex{options()};
    std::atomic<int> done{0};
    for (int i = 0; i < n; ++i) ex.post([&] { done.fetch_add(1); });
    ASSERT_TRUE(eventually([&] { return done.load() == n; }));
    ex.shutdown();
    std::uint64_t executed = 0, injected = 0;
    for (const auto& s : ex.stats()) {
        executed += s.executed;
        injected += s.injected;
    }
    EXPECT_EQ(executed, std::uint64_t{n});
    EXPECT_EQ(injected, std::uint64_t{n});
}

TEST_P(ExecutorTest, PostsFromTasksRunOnce) {
    std::atomic<int> count{0};
    {
        weft::executor ex{options()};
        for (int i = 0; i < 100; ++i)
            ex.post([&] {
                for (int j = 0; j < 100; ++j) weft::this_worker::executor()->post([&] { count.fetch_add(1); });
            });
    }
    EXPECT_EQ(count.load(), 100 * 100);
}

TEST_P(ExecutorTest, WorkersKnowTheirIndexNameAndExecutor) {
    weft::executor ex{weft::executor_options{.workers = GetParam(), .thread_name_prefix = "wk"}};
    std::mutex m;
    std::set<std::string> names;
    std::atomic<int> bad{0};
    weft::task_group g{ex};
    for (int i = 0; i < 200; ++i)
        g.run([&] {
            auto idx = weft::this_worker::index();
            if (!idx || *idx >= GetParam() || weft::this_worker::executor() != &ex) bad.fetch_add(1);
            const std::string name{weft::this_worker::name()};
            if (name != "wk_" + std::to_string(idx.value_or(999))) bad.fetch_add(1);
#if defined(__linux__)
            char os_name[16] = {};
            pthread_getname_np(pthread_self(), os_name, sizeof os_name);
            if (name != os_name) bad.fetch_add(1);
#endif
            std::lock_guard lock{m};
            names.insert(name);
        });
    g.wait();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GE(names.size(), 1U);
    EXPECT_FALSE(weft::this_worker::index().has_value());
    EXPECT_EQ(weft::this_worker::name(), "");
    EXPECT_EQ(weft::this_worker::executor(), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Workers, ExecutorTest, ::testing::Values(1, 2, 4, 8));

TEST(Executor, DefaultsToHardwareConcurrency) {
    weft::executor ex;
    EXPECT_EQ(ex.worker_count(), std::max(1U, std::thread::hardware_concurrency()));
}

TEST(Executor, LongPrefixIsTruncatedToFifteenCharacters) {
    weft::executor ex{weft::executor_options{.workers = 1, .thread_name_prefix = "a-very-long-prefix-name"}};
    std::string name;
    weft::task_group g{ex};
    g.run([&] { name = weft::this_worker::name(); });
    g.wait();
    EXPECT_EQ(name, "a-very-long-p_0");
    EXPECT_LE(name.size(), 15U);
}

TEST(Executor, RejectsEmptyCallables) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    void (*null_fn)() = nullptr;
    std::function<void()> empty;
    EXPECT_THROW(ex.post(null_fn), std::invalid_argument);
    EXPECT_THROW(ex.post(empty), std::invalid_argument);
    std::atomic<bool> ran{false};
    ex.post([&] { ran = true; });  // still usable
    ex.shutdown();
    EXPECT_TRUE(ran.load());
}

TEST(Executor, PostAfterShutdownThrowsWithClearMessage) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    ex.shutdown();
    EXPECT_TRUE(ex.is_shut_down());
    try {
        ex.post([] {});
        FAIL() << "post after shutdown did not throw";
    } catch (const weft::executor_shutdown_error& e) {
        EXPECT_NE(std::string{e.what()}.find("after shutdown"), std::string::npos) << e.what();
    }
    ex.shutdown();  // idempotent
}

TEST(Executor, ExceptionsFromPostedTasksGoToTheHandlerAndWorkersLiveOn) {
    std::mutex m;
    std::vector<std::string> reports;
    std::atomic<int> after{0};
    {
        weft::executor ex{weft::executor_options{
            .workers = 2,
            .thread_name_prefix = "eh",
            .unhandled_exception_handler =
                [&](std::exception_ptr e, std::string_view worker) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::runtime_error& err) {
                        std::lock_guard lock{m};
                        reports.push_back(std::string{worker} + ":" + err.what());
                    }
                }}};
        for (int i = 0; i < 10; ++i) ex.post([] { throw std::runtime_error{"boom"}; });
        for (int i = 0; i < 10; ++i) ex.post([&] { after.fetch_add(1); });
    }
    ASSERT_EQ(reports.size(), 10U);
    for (const auto& r : reports) EXPECT_TRUE(r == "eh_0:boom" || r == "eh_1:boom") << r;
    EXPECT_EQ(after.load(), 10);
}

TEST(Executor, DefaultHandlerReportsOnStderrWithTheWorkerName) {
    ::testing::internal::CaptureStderr();
    {
        weft::executor ex{weft::executor_options{.workers = 1, .thread_name_prefix = "loud"}};
        ex.post([] { throw std::runtime_error{"visible failure"}; });
    }
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("loud_0"), std::string::npos) << err;
    EXPECT_NE(err.find("visible failure"), std::string::npos) << err;
}

TEST(Executor, DestructorDrainsTasksSpawnedWhileDraining) {
    std::atomic<int> count{0};
    {
        weft::executor ex{weft::executor_options{.workers = 2}};
        for (int i = 0; i < 10; ++i)
            ex.post([&ex, &count] {
                for (int j = 0; j < 100; ++j)
                    ex.post([&ex, &count] {
                        count.fetch_add(1);
                        ex.post([&count] { count.fetch_add(1); });
                    });
            });
    }
    EXPECT_EQ(count.load(), 10 * 100 * 2);
}

TEST(Executor, AcceptsMoveOnlyAndLargeCallables) {
    std::atomic<int> sum{0};
    {
        weft::executor ex{weft::executor_options{.workers = 2}};
        auto p = std::make_unique<int>(41);
        ex.post([p = std::move(p), &sum] { sum.fetch_add(*p + 1); });
        std::array<int, 64> big{};
        big.fill(1);
        ex.post([big, &sum] {
            int s = 0;
            for (int v : big) s += v;
            sum.fetch_add(s);
        });
    }
    EXPECT_EQ(sum.load(), 42 + 64);
}

TEST(Executor, ShutdownFromOwnWorkerThrowsInsteadOfDeadlocking) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    std::atomic<int> outcome{0};
    weft::task_group g{ex};
    g.run([&] {
        try {
            ex.shutdown();
            outcome = 1;
        } catch (const std::logic_error&) {
            outcome = 2;
        }
    });
    g.wait();
    EXPECT_EQ(outcome.load(), 2);
}

TEST(ExecutorDeathTest, DestroyingFromOwnWorkerIsReportedNotAHang) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const auto destroy_from_own_worker = [] {
        weft::executor_options options{.workers = 1, .thread_name_prefix = "self"};
        auto* ex = new weft::executor{options};
        ex->post([ex] { delete ex; });
        std::promise<void> never;
        never.get_future().wait();  // the worker's report ends the process first
    };
    EXPECT_DEATH(destroy_from_own_worker(),
        "destroyed by one of its own worker threads \\(self_0\\)");
}

TEST(Executor, IdleWorkersPark) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    std::atomic<int> done{0};
    ex.post([&] { done = 1; });
    ASSERT_TRUE(eventually([&] { return done.load() == 1; }));
    ASSERT_TRUE(eventually([&] {
        const auto s = ex.stats();
        return s[0].parks > 0 && s[1].parks > 0;
    })) << "idle workers never parked";
    // A parked pool still runs new work.
    ex.post([&] { done = 2; });
    EXPECT_TRUE(eventually([&] { return done.load() == 2; }));
}

}  // namespace
