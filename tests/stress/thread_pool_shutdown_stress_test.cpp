// Stress of thread_pool_executor shutdown: producers submit (and tasks submit children)
// while the pool is shut down at a random moment with random (wait, cancel_futures),
// sometimes from two threads at once, and some futures are cancelled by the user. Every
// submit either throws executor_shutdown_error or yields a future that ends exactly once
// (finished or cancelled); a task runs iff its future was not cancelled; and
// executed + cancelled + rejected == attempted.
#include "stress_scale.hpp"

#include <weft/errors.hpp>
#include <weft/thread_pool_executor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stress = weft::stress;

/// Per-call state of one trial: ids [0, outside) come from producers, the rest are
/// children, submitted by every 4th outside task from its pool thread.
struct ledger {
    explicit ledger(std::size_t outside_calls)
        : outside{outside_calls}, attempted(2 * outside_calls), rejected(attempted.size()),
          ran(attempted.size()), ended(attempted.size()), cancelled(attempted.size()) {}

    std::size_t outside;
    std::vector<std::atomic<std::uint8_t>> attempted, rejected, ran, ended, cancelled;
    std::atomic<std::uint64_t> unexpected_errors{0};
};

/// Busy work of 0-50 µs (scaled with the task's id), no sleeping.
void spin_for(std::chrono::nanoseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
}

struct trial_params {
    std::size_t workers, calls, work_every, shutdown_at;
    bool wait, cancel_futures, two_threads, second_producer;
};

void try_submit(weft::thread_pool_executor& pool, ledger& led, std::size_t id, const trial_params& p,
                bool user_cancel);

void run_call(weft::thread_pool_executor& pool, ledger& led, std::size_t id, const trial_params& p) {
    led.ran[id].fetch_add(1, std::memory_order_relaxed);
    if (p.work_every != 0 && id % p.work_every == 0) spin_for(std::chrono::nanoseconds{(id * 7919) % 50'000});
    if (id < led.outside && id % 4 == 0) try_submit(pool, led, led.outside + id, p, false);
}

void try_submit(weft::thread_pool_executor& pool, ledger& led, std::size_t id, const trial_params& p,
                bool user_cancel) {
    led.attempted[id].store(1, std::memory_order_relaxed);
    try {
        auto f = pool.submit([&pool, &led, id, &p] { run_call(pool, led, id, p); });
        f.add_done_callback([&led, id](const weft::future<void>& g) {
            led.ended[id].fetch_add(1, std::memory_order_relaxed);
            if (g.cancelled()) led.cancelled[id].store(1, std::memory_order_relaxed);
        });
        if (user_cancel) f.cancel();
    } catch (const weft::executor_shutdown_error&) {
        led.rejected[id].store(1, std::memory_order_relaxed);
    } catch (...) {
        led.unexpected_errors.fetch_add(1, std::memory_order_relaxed);
        led.rejected[id].store(1, std::memory_order_relaxed);
    }
}

struct totals {
    std::uint64_t attempted = 0, rejected = 0, executed = 0, cancelled = 0;
};

trial_params draw(std::mt19937_64& rng) {
    trial_params p{};
    p.workers = 1 + rng() % 8;
    // Mostly short trials; one in 64 submits up to 10^4 calls.
    const std::size_t big = stress::scaled(10'000, 100);
    p.calls = rng() % 64 == 0 ? 1 + rng() % big : 1 + rng() % 64;
    p.work_every = rng() % 2 == 0 ? 0 : 1 + rng() % 10;
    p.shutdown_at = rng() % (p.calls + 1);
    p.wait = rng() % 2 == 0;
    p.cancel_futures = rng() % 2 == 0;
    p.two_threads = rng() % 4 == 0;
    p.second_producer = rng() % 3 == 0;
    return p;
}

totals run_trial(std::mt19937_64& rng, std::uint64_t trial) {
    const trial_params p = draw(rng);
    SCOPED_TRACE(::testing::Message() << "trial " << trial << ": " << p.workers << " workers, " << p.calls
                                      << " calls, shutdown after " << p.shutdown_at << ", wait=" << p.wait
                                      << ", cancel_futures=" << p.cancel_futures << ", two threads=" << p.two_threads
                                      << ", second producer=" << p.second_producer);
    ledger led{p.calls};
    const std::uint64_t cancel_seed = rng();
    {
        weft::thread_pool_executor pool{static_cast<int>(p.workers)};
        std::atomic<std::size_t> next{0};
        auto produce = [&](std::uint64_t seed) {
            std::mt19937_64 local{seed};
            for (std::size_t id; (id = next.fetch_add(1)) < p.calls;) try_submit(pool, led, id, p, local() % 16 == 0);
        };
        std::optional<std::thread> producer2;
        if (p.second_producer) producer2.emplace(produce, cancel_seed + 1);
        std::optional<std::thread> shutter2;
        std::atomic<bool> go{false};
        if (p.two_threads)
            shutter2.emplace([&] {
                while (!go.load()) std::this_thread::yield();
                pool.shutdown(p.wait, p.cancel_futures);
            });
        std::mt19937_64 local{cancel_seed};
        for (std::size_t id; next.load() < p.shutdown_at && (id = next.fetch_add(1)) < p.calls;)
            try_submit(pool, led, id, p, local() % 16 == 0);
        go.store(true);
        pool.shutdown(p.wait, p.cancel_futures);
        produce(cancel_seed + 2);  // the rest: all rejected
        if (shutter2) shutter2->join();
        if (producer2) producer2->join();
    }  // the destructor joins: every accepted future has ended now

    totals t;
    std::size_t wrong = 0;
    for (std::size_t id = 0; id < led.attempted.size(); ++id) {
        const bool attempted = led.attempted[id].load() != 0;
        const bool rejected = led.rejected[id].load() != 0;
        const bool cancelled = led.cancelled[id].load() != 0;
        const unsigned ran = led.ran[id].load(), ended = led.ended[id].load();
        t.attempted += attempted;
        t.rejected += rejected;
        t.executed += ran;
        t.cancelled += cancelled;
        const bool ok = !attempted ? ran == 0 && ended == 0
                        : rejected ? ran == 0 && ended == 0
                                   : ended == 1 && ran == (cancelled ? 0U : 1U);
        if (!ok && wrong++ < 10)
            ADD_FAILURE() << "call " << id << (id < led.outside ? " (outside)" : " (child)")
                          << (attempted ? " attempted" : " never submitted") << (rejected ? ", rejected" : "")
                          << (cancelled ? ", cancelled" : "") << ", ran " << ran << " times, ended " << ended
                          << " times";
    }
    EXPECT_EQ(wrong, 0U);
    EXPECT_EQ(t.executed + t.cancelled + t.rejected, t.attempted);
    EXPECT_EQ(led.unexpected_errors.load(), 0U) << "submit threw something else than executor_shutdown_error";
    return t;
}

TEST(ThreadPoolShutdownStress, EverySubmitIsRejectedOrEndsExactlyOnce) {
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit, [&] { return "trials done: " + std::to_string(progress.load()); }};
    std::mt19937_64 rng{stress::seed()};
    const std::uint64_t trials = stress::scaled(10'000, 20);
    totals all;
    for (std::uint64_t i = 0; i < trials && !HasFailure(); ++i) {
        const totals t = run_trial(rng, i);
        all.attempted += t.attempted;
        all.rejected += t.rejected;
        all.executed += t.executed;
        all.cancelled += t.cancelled;
        progress.fetch_add(1, std::memory_order_relaxed);
    }
    std::printf("[   INFO   ] %llu trials: %llu submits attempted, %llu ran, %llu cancelled, %llu rejected\n",
                static_cast<unsigned long long>(trials), static_cast<unsigned long long>(all.attempted),
                static_cast<unsigned long long>(all.executed), static_cast<unsigned long long>(all.cancelled),
                static_cast<unsigned long long>(all.rejected));
}

}  // namespace
