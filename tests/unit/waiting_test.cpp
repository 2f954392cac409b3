// Waits that never hang: one regression test per confirmed failure of the waiting rule
// (docs: a waiter runs only what it awaits; with nothing it may run, it blocks while a
// spare worker keeps the executor's parallelism; a timed wait runs no task at all).
// Every test runs under a watchdog that aborts with the test's name, so a deadlock fails
// loudly instead of hanging the suite. The lost wake-up on spawn is in
// tests/stress/spawn_wakeup_stress_test.cpp.
#include "test_signal.hpp"

#include "../stress/stress_scale.hpp"

#include <weft/errors.hpp>
#include <weft/executor.hpp>
#include <weft/future.hpp>
#include <weft/task_group.hpp>
#include <weft/this_worker.hpp>
#include <weft/thread_pool_executor.hpp>
#include <weft/wait.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stress = weft::stress;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// Far above any healthy run of one test, sanitizers included.
constexpr std::chrono::seconds k_test_limit{60};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool k_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool k_sanitized = true;
#else
constexpr bool k_sanitized = false;
#endif
#else
constexpr bool k_sanitized = false;
#endif

#if defined(__SANITIZE_THREAD__)
constexpr bool k_thread_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool k_thread_sanitized = true;
#else
constexpr bool k_thread_sanitized = false;
#endif
#else
constexpr bool k_thread_sanitized = false;
#endif

using weft::test::signal;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Threads of this process now (Linux).
std::size_t thread_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator{"/proc/self/task"})
        ++n;
    return n;
}

std::string workers_name(const ::testing::TestParamInfo<std::size_t>& info) {
    return std::to_string(info.param) + "_workers";
}

/// An executor of GetParam() workers, and a watchdog over the whole test (declared
/// first, so it also covers the executor's destruction).
class Waiting : public ::testing::TestWithParam<std::size_t> {
protected:
    stress::watchdog m_dog{k_test_limit};
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

/// The same, for tests that need a second worker to be meaningful.
class WaitingOnSeveral : public Waiting {};

// ---- InjectedWorkPastHelpDepth ------------------------------------------------------

constexpr int k_deep = 200;  // past the old helping limit (128)

// The owner of a group 200 waits deep waits for a child that an outside thread run()s:
// that child sits in the injection queue, which a deeply nested waiter never looked at.
TEST_P(Waiting, InjectedWorkPastHelpDepth) {
    std::atomic<int> ran{0};
    std::function<void(int)> nest = [&](int depth) {
        weft::task_group g{m_ex};
        if (depth == k_deep) {
            std::thread outside{[&] { g.run([&] { ran.fetch_add(1); }); }};
            outside.join();
        } else {
            g.run([&, depth] { nest(depth + 1); });
        }
        g.wait();
    };
    weft::async(m_ex, [&] { nest(0); }).get();
    EXPECT_EQ(ran.load(), 1);

    // The same with get() on an async submitted from outside.
    std::function<int(int)> nest_get = [&](int depth) -> int {
        if (depth == k_deep) {
            weft::future<int> f;
            std::thread outside{[&] { f = weft::async(m_ex, [] { return 42; }); }};
            outside.join();
            return f.get();
        }
        int below = 0;
        weft::task_group g{m_ex};
        g.run([&, depth] { below = nest_get(depth + 1); });
        g.wait();
        return below;
    };
    EXPECT_EQ(weft::async(m_ex, [&] { return nest_get(0); }).get(), 42);
}

// ---- HelpingDoesNotRunUnrelatedTasks ------------------------------------------------

// T1 posts T2, which waits for what T1 does only later; T1 then waits on a future of its
// own. A helping wait that pops T2 (LIFO) runs it on top of T1, and T2 never returns.
TEST_P(Waiting, HelpingDoesNotRunUnrelatedTasks) {
    for (int rep = 0; rep < 20; ++rep) {
        weft::promise<void> later;
        const weft::future<void> later_f = later.get_future();
        signal t2_done;
        auto t1 = weft::async(m_ex, [&] {
            auto own = weft::async(m_ex, [] { return 7; });
            m_ex.post([&t2_done, later_f] {  // T2
                later_f.get();
                t2_done.raise();
            });
            const int v = own.get();
            later.set_value();
            return v;
        });
        ASSERT_EQ(t1.get(), 7) << "rep " << rep;
        // On failure T2 stays blocked on later_f, its own copy: it refers to nothing here.
        ASSERT_TRUE(t2_done.wait()) << "rep " << rep;
    }
}

// ---- NextTaskSlotDoesNotHideWork ----------------------------------------------------

// A continuation scheduled while a nested wait ran its input is a task like any other:
// the waiting task can block on its result, and it is not hidden from other workers.
TEST_P(Waiting, NextTaskSlotDoesNotHideWork) {
    auto outer = weft::async(m_ex, [&] {
        auto x = weft::async(m_ex, [] { return 1; });
        auto c = x.then([](int v) { return v + 1; });
        EXPECT_EQ(x.get(), 1);  // nested wait: may run x here, which schedules c
        return c.get();         // blocks on the continuation's result
    });
    EXPECT_EQ(outer.get(), 2);
}

// On several workers the continuation runs at once on another worker, not after the
// task that scheduled it: the outer task holds its worker (blocked where weft cannot see,
// up to 2 s) until the continuation has started.
TEST_P(WaitingOnSeveral, NextTaskSlotDoesNotHideWork) {
    for (int attempt = 0; attempt < 20; ++attempt) {
        signal c_started;
        std::atomic<std::size_t> x_worker{~std::size_t{0}};
        clock_type::time_point scheduled_at{};
        clock_type::time_point started_at{};
        std::size_t outer_worker = 0;
        auto outer = weft::async(m_ex, [&] {
            outer_worker = *weft::this_worker::index();
            auto x = weft::async(m_ex, [&] {
                x_worker = weft::this_worker::index().value_or(~std::size_t{0});
                return 1;
            });
            auto c = x.then([&](int v) {
                started_at = clock_type::now();
                c_started.raise();
                return v + 1;
            });
            x.get();  // the nested wait: x completes here, c is scheduled
            scheduled_at = clock_type::now();
            c_started.wait(2s);  // an unrelated long stretch on this worker
            return c.get();
        });
        ASSERT_EQ(outer.get(), 2);
        if (x_worker.load() != outer_worker) continue;  // another worker ran x: not this case
        EXPECT_LT(std::chrono::duration<double>(started_at - scheduled_at).count(), 1.0)
            << "the continuation waited for the task that scheduled it";
        return;
    }
    FAIL() << "x never ran on the waiting task's worker in 20 attempts";
}

// ---- ThenInlineDeferralAndGet -------------------------------------------------------

// A chain of 100 then_inline links completing on one thread nests 64 deep and defers the
// rest until the outermost link returns. A link's sibling that get()s a deferred link's
// future must not wait for that return (it never comes).
TEST(WaitingInline, ThenInlineDeferralAndGet) {
    const stress::watchdog dog{k_test_limit};
    for (const std::size_t probe_at : {std::size_t{1}, std::size_t{40}}) {
        weft::promise<int> p;
        std::vector<weft::future<int>> chain{p.get_future()};
        for (int i = 0; i < 100; ++i)
            chain.push_back(chain.back().then_inline([](int v) { return v + 1; }));
        // Added after the chain's own link, so it runs once that link has returned.
        auto probe =
            chain[probe_at].then_inline([deferred = chain[80]](int) { return deferred.get(); });
        p.set_value(0);
        EXPECT_EQ(probe.get(), 80) << "probe at link " << probe_at;
        EXPECT_EQ(chain.back().get(), 100);
    }
}

// ---- UnwrappingRecursion ------------------------------------------------------------

weft::future<int> next_link(weft::executor& ex, std::uint64_t n) {
    if (n == 0) return weft::make_ready_future(0);
    return weft::async(ex, [] {}).then([&ex, n] { return next_link(ex, n - 1); });
}

// Each link's future is unwrapped from the next one's: completing the innermost must not
// complete the million outer ones recursively on one stack.
TEST_P(Waiting, UnwrappingRecursion) {
    const std::uint64_t links = k_sanitized ? 200'000 : stress::scaled(1'000'000, 200'000);
    EXPECT_EQ(next_link(m_ex, links).get(), 0);
}

// ---- WaitAndAsCompletedHelpOnWorker -------------------------------------------------

std::vector<weft::future<int>> submit_values(weft::executor& ex, int n) {
    std::vector<weft::future<int>> fs;
    for (int i = 0; i < n; ++i) fs.push_back(weft::async(ex, [i] { return i; }));
    return fs;
}

// weft::wait and as_completed inside a task, over asyncs that task submitted: on one
// worker nobody else can run them.
TEST_P(Waiting, WaitAndAsCompletedHelpOnWorker) {
    auto waited = weft::async(m_ex, [&] {
        const auto fs = submit_values(m_ex, 8);
        const auto r = weft::wait(fs);
        int sum = 0;
        for (const auto& f : r.done) sum += f.get();
        return r.not_done.empty() ? sum : -1;
    });
    EXPECT_EQ(waited.get(), 28);

    auto iterated = weft::async(m_ex, [&] {
        int sum = 0, seen = 0;
        for (auto& f : weft::as_completed(submit_values(m_ex, 8))) {
            sum += f.get();
            ++seen;
        }
        return seen == 8 ? sum : -1;
    });
    EXPECT_EQ(iterated.get(), 28);
}

// ---- TimedWaitsDoNotOvershoot -------------------------------------------------------

// wait_for(10 ms) on a worker whose deque holds an unrelated task of up to 2 s returns
// after about 10 ms: a timed wait runs no task.
TEST_P(Waiting, TimedWaitsDoNotOvershoot) {
    signal release;
    signal long_done;
    weft::promise<int> never;
    const weft::future<int> f = never.get_future();
    auto seconds = weft::async(m_ex, [&] {
        m_ex.post([&] {  // the unrelated long task
            release.wait(2s);
            long_done.raise();
        });
        const auto start = clock_type::now();
        const auto status = f.wait_for(10ms);
        const double took = seconds_since(start);
        release.raise();
        return status == std::future_status::timeout ? took : -1.0;
    });
    const double took = seconds.get();
    EXPECT_GE(took, 0.0) << "wait_for did not time out";
    EXPECT_LT(took, 1.0) << "a 10 ms timed wait overshot";
    never.set_value(0);
    EXPECT_TRUE(long_done.wait());  // it refers to this test's locals
}

// result(10 ms) on a thread_pool_executor thread with an unrelated item of up to 2 s
// queued behind it throws timeout_error after about 10 ms.
TEST(WaitingPool, TimedWaitsDoNotOvershoot) {
    const stress::watchdog dog{k_test_limit};
    signal release;
    weft::promise<int> never;
    const weft::future<int> f = never.get_future();
    weft::thread_pool_executor pool{weft::thread_pool_options{.max_workers = 1}};
    auto seconds = pool.submit([&] {
        pool.post([&] { release.wait(2s); });  // queued: the pool's only thread is busy here
        const auto start = clock_type::now();
        bool timed_out = false;
        try {
            (void)f.result(10ms);
        } catch (const weft::timeout_error&) {
            timed_out = true;
        }
        const double took = seconds_since(start);
        release.raise();
        return timed_out ? took : -1.0;
    });
    const double took = seconds.result();
    EXPECT_GE(took, 0.0) << "result(10ms) did not throw timeout_error";
    EXPECT_LT(took, 1.0) << "a 10 ms timed wait overshot";
    never.set_value(0);
}

// ---- FutureOutlivesExecutor ---------------------------------------------------------

// An async's future kept after its executor is gone: then() must not reach the dead
// scheduler (throw executor_shutdown_error, or return a future holding it, and never run
// the continuation); a throwing done-callback is reported on stderr, not a crash.
TEST(WaitingLifetime, FutureOutlivesExecutor) {
    const stress::watchdog dog{k_test_limit};
    weft::future<int> f;
    {
        weft::executor ex{weft::executor_options{.workers = 2}};
        f = weft::async(ex, [] { return 5; });
        ASSERT_EQ(f.get(), 5);
    }
    std::atomic<int> continuation_ran{0};
    try {
        auto c = f.then([&](int v) {
            continuation_ran.fetch_add(1);
            return v;
        });
        ASSERT_EQ(c.wait_for(30s), std::future_status::ready)
            << "the continuation's future never completed";
        EXPECT_THROW(c.get(), weft::executor_shutdown_error);
    } catch (const weft::executor_shutdown_error&) {
        // the other accepted answer
    }
    EXPECT_EQ(continuation_ran.load(), 0);

    std::atomic<int> called{0};
    ::testing::internal::CaptureStderr();
    f.add_done_callback([&](const weft::future<int>&) {
        called.fetch_add(1);
        throw std::runtime_error{"callback after its executor"};
    });
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(called.load(), 1);
    EXPECT_NE(err.find("callback after its executor"), std::string::npos) << "stderr: " << err;
    EXPECT_EQ(f.get(), 5);
}

// ---- DeepLinearRecursion ------------------------------------------------------------

// ThreadSanitizer keeps a shadow call stack of a fixed 64 Ki frames per thread, and each
// level here is several frames: under TSan the recursion is cut to 5 000 levels (the
// release and ASan builds run the full 30 000).
constexpr int k_linear_depth = k_thread_sanitized ? 5'000 : 30'000;

// 30 000 nested waits, one per level, on one worker with a 256 MiB stack: a task_group
// per level, then nested async(...).get().
TEST(WaitingDeep, DeepLinearRecursion) {
    const stress::watchdog dog{k_test_limit};
    weft::executor_options options{.workers = 1};
    options.stack_size = std::size_t{256} << 20;
    weft::executor ex{options};

    std::function<int(int)> groups = [&](int depth) -> int {
        if (depth == 0) return 0;
        int below = 0;
        weft::task_group g{ex};
        g.run([&, depth] { below = groups(depth - 1); });
        g.wait();
        return below + 1;
    };
    EXPECT_EQ(weft::async(ex, [&] { return groups(k_linear_depth); }).get(), k_linear_depth);

    std::function<int(int)> asyncs = [&](int depth) -> int {
        if (depth == 0) return 0;
        return weft::async(ex, [&, depth] { return asyncs(depth - 1); }).get() + 1;
    };
    EXPECT_EQ(weft::async(ex, [&] { return asyncs(k_linear_depth); }).get(), k_linear_depth);
}

// ---- BlockingCompensates ------------------------------------------------------------

// Every worker of a 2-worker executor blocks in this_worker::blocking() on a latch that a
// later task counts down: spares keep the parallelism, so the later task runs; the stats
// count the blocks and the spares, and the spares retire once idle.
TEST(WaitingBlocking, BlockingCompensates) {
    const stress::watchdog dog{k_test_limit + k_test_limit};
    EXPECT_EQ(weft::this_worker::blocking([] { return 3; }), 3);  // off a worker: a plain call

    // Declared before the executor: its tasks refer to them until it is destroyed.
    std::latch gate{1};
    std::atomic<bool> gate_opened{false};
    const auto open_gate = [&] {
        if (!gate_opened.exchange(true)) gate.count_down();
    };
    std::latch entered{2};
    signal later_ran;
    std::atomic<std::size_t> threads_at_peak{0};
    weft::executor ex{weft::executor_options{.workers = 2}};
    for (int i = 0; i < 2; ++i)
        ex.post([&] {
            entered.count_down();
            weft::this_worker::blocking([&] { gate.wait(); });
        });
    entered.wait();  // both workers (or a worker and a spare) are blocked
    ex.post([&] {
        threads_at_peak = thread_count();
        open_gate();
        later_ran.raise();
    });
    const bool ran = later_ran.wait();
    // If the later task never ran, let the blocked workers go, so that `ex` can be destroyed.
    open_gate();
    ASSERT_TRUE(ran) << "the later task never ran: blocking() did not compensate";
    EXPECT_EQ(weft::async(ex, [] { return weft::this_worker::blocking([] { return 4; }); }).get(),
              4);

    std::uint64_t blocked = 0, spares = 0;
    for (const auto& s : ex.stats()) {
        blocked += s.blocked;
        spares += s.spares_started;
    }
    EXPECT_GE(blocked, 2U);
    EXPECT_GT(spares, 0U);

    // Spares retire when idle: the thread count drops below the peak (bounded poll).
    const auto give_up = clock_type::now() + 30s;
    while (thread_count() >= threads_at_peak.load() && clock_type::now() < give_up)
        std::this_thread::sleep_for(10ms);
    EXPECT_LT(thread_count(), threads_at_peak.load()) << "idle spare workers did not retire";
}

// ---- NoDeadlockAtOneWorkerFireAndForgetDescendant -----------------------------------

// A task posts X (fire-and-forget), which waits on a promise the task fulfils after its
// own g.wait() on an unrelated child returns: the descendant waits for the waiter, and
// the waiter must not run it.
TEST_P(Waiting, NoDeadlockAtOneWorkerFireAndForgetDescendant) {
    for (const bool child_first : {true, false}) {
        weft::promise<void> fulfilled;
        const weft::future<void> fulfilled_f = fulfilled.get_future();
        signal x_done;
        std::atomic<int> child_ran{0};
        auto poster = weft::async(m_ex, [&] {
            weft::task_group g{m_ex};
            const auto post_x = [&] {
                m_ex.post([&x_done, fulfilled_f] {
                    fulfilled_f.get();
                    x_done.raise();
                });
            };
            if (!child_first) post_x();
            g.run([&] { child_ran.fetch_add(1); });
            if (child_first) post_x();
            g.wait();
            fulfilled.set_value();
        });
        poster.get();
        EXPECT_EQ(child_ran.load(), 1);
        EXPECT_TRUE(x_done.wait()) << "child_first " << child_first;
    }
}

INSTANTIATE_TEST_SUITE_P(Workers, Waiting, ::testing::Values(1, 2, 4), workers_name);
INSTANTIATE_TEST_SUITE_P(Workers, WaitingOnSeveral, ::testing::Values(2, 4), workers_name);

}  // namespace
