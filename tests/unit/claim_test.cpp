// Waits that run what they await (claims), timed waits that run nothing, spare workers
// and their cap. docs/design/scheduler.md, "Waiting: run only what you await".
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <cstdint>
#include <latch>
#include <numeric>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::uint64_t total_blocked(const weft::executor& ex) {
    std::uint64_t n = 0;
    for (const auto& s : ex.stats()) n += s.blocked;
    return n;
}

// An untimed get() on a worker runs the unstarted async task itself: same thread, no
// block, no spare.
TEST(Claim, GetRunsTheUnstartedAsyncTaskOnTheWaiter) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    auto outer = weft::async(ex, [&ex] {
        const auto me = std::this_thread::get_id();
        auto inner = weft::async(ex, [] { return std::this_thread::get_id(); });
        return inner.get() == me;
    });
    EXPECT_TRUE(outer.get());
    EXPECT_EQ(total_blocked(ex), 0U);
    EXPECT_EQ(ex.live_thread_count(), 1U);
}

// when_all(a, b).get() claims both inputs: nothing blocks on one worker.
TEST(Claim, WhenAllGetRunsItsInputs) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    auto outer = weft::async(ex, [&ex] {
        auto a = weft::async(ex, [] { return 20; });
        auto b = weft::async(ex, [] { return 22; });
        const auto both = weft::when_all(a, b).get();
        return std::get<0>(both).get() + std::get<1>(both).get();
    });
    EXPECT_EQ(outer.get(), 42);
    EXPECT_EQ(total_blocked(ex), 0U);
}

// A claimed task's queue entry is a tombstone: every task body runs exactly once,
// whether the waiter claimed it or a worker popped or stole it first.
TEST(Claim, ClaimedTasksRunExactlyOnce) {
    for (std::size_t workers : {1U, 2U, 4U}) {
        weft::executor ex{weft::executor_options{.workers = workers}};
        constexpr int k_tasks = 2000;
        std::vector<std::atomic<int>> runs(k_tasks);
        weft::task_group g{ex};
        for (int chunk = 0; chunk < 20; ++chunk) {
            g.run([&, chunk] {
                std::vector<weft::future<int>> fs;
                for (int i = chunk * 100; i < (chunk + 1) * 100; ++i)
                    fs.push_back(weft::async(ex, [&runs, i] {
                        runs[i].fetch_add(1, std::memory_order_relaxed);
                        return i;
                    }));
                // Oldest first: thieves take from the same end, so claims and steals race.
                for (int i = 0; i < 100; ++i) EXPECT_EQ(fs[i].get(), chunk * 100 + i);
            });
        }
        g.wait();
        for (int i = 0; i < k_tasks; ++i) ASSERT_EQ(runs[i].load(), 1) << "task " << i << ", " << workers << " workers";
    }
}

// A timed wait runs no task: the awaited task runs on another thread (a spare, since the
// only worker is the waiter), never under the waiter.
TEST(Claim, TimedWaitRunsNothingOnTheWaiter) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    auto outer = weft::async(ex, [&ex] {
        const auto me = std::this_thread::get_id();
        auto inner = weft::async(ex, [] { return std::this_thread::get_id(); });
        while (inner.wait_for(1h) != std::future_status::ready) {
        }
        return inner.get() != me;
    });
    EXPECT_TRUE(outer.get());
    EXPECT_GE(total_blocked(ex), 1U);
}

// At the cap, a blocking worker gets no spare: counted, and the program still finishes
// once the outside event comes.
TEST(Claim, SpareCapIsCountedAndHolds) {
    weft::executor ex{weft::executor_options{.workers = 1, .max_spare_workers = 1}};
    std::latch first{1}, second{1};
    std::atomic<int> entered{0};
    ex.post([&] {
        entered.fetch_add(1);
        weft::this_worker::blocking([&] { first.wait(); });
    });
    ex.post([&] {
        entered.fetch_add(1);
        weft::this_worker::blocking([&] { second.wait(); });
    });
    // Both tasks start (the second on the spare), and the spare's block hits the cap.
    while (entered.load() < 2 || ex.spare_cap_hits() == 0) std::this_thread::yield();
    EXPECT_LE(ex.live_thread_count(), 2U);
    second.count_down();
    first.count_down();
    ex.shutdown();
    EXPECT_EQ(ex.spare_cap_hits(), 1U);
}

// Spares retire once nobody is blocked: the thread count comes back to `workers`.
TEST(Claim, SparesRetireWhenIdle) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    std::latch release{1};
    std::latch blocked{2};
    for (int i = 0; i < 2; ++i)
        ex.post([&] {
            blocked.count_down();
            weft::this_worker::blocking([&] { release.wait(); });
        });
    blocked.wait();
    std::atomic<bool> ran{false};
    ex.post([&] { ran = true; });  // needs a spare: both workers are blocked
    while (!ran.load()) std::this_thread::yield();
    EXPECT_GT(ex.live_thread_count(), 2U);
    release.count_down();
    // Bounded poll, not a sleep that fixes a race: spares retire after their idle timeout.
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (ex.live_thread_count() > 2 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(ex.live_thread_count(), 2U);
}

// A done-callback added to a future already seen done runs at once, inside
// add_done_callback, even while the completing thread has not yet closed the list (the
// docs' example asserted it and failed under ASan's timing).
TEST(Callback, AddedToAFutureSeenDoneRunsAtOnce) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    for (int i = 0; i < 2000; ++i) {
        weft::future<int> f = weft::async(ex, [i] { return i; });
        f.wait();
        int seen = -1;
        f.add_done_callback([&seen](const weft::future<int>& self) { seen = self.get(); });
        ASSERT_EQ(seen, i);
    }
}

}  // namespace
