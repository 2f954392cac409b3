// Stress of shutdown: producers post (and tasks post children) while the executor is shut
// down or destroyed at a random moment. Every post either throws executor_shutdown_error
// or its task runs exactly once; posts from the executor's own workers are part of the
// drain and never throw; nothing runs after shutdown() returns.
#include "stress_scale.hpp"

#include <weft/errors.hpp>
#include <weft/executor.hpp>
#include <weft/task_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stress = weft::stress;

/// How one iteration ends the executor's life.
enum class ending {
    shutdown,              // shutdown() from the main thread while producers post
    shutdown_two_threads,  // shutdown() from two threads at once while producers post
    destroy,               // destructor while tasks (and their children) are in flight
};

/// Per-task state of one iteration: ids [0, outside) are posted by producers, ids
/// [outside, outside * (1 + k_children)) by tasks, from their worker.
struct ledger {
    static constexpr std::size_t k_children = 4;  // posted by every 3rd outside task

    explicit ledger(std::size_t outside_tasks)
        : outside{outside_tasks},
          attempted(outside_tasks * (1 + k_children)),
          rejected(attempted.size()),
          ran(attempted.size()) {}

    std::size_t outside;
    std::vector<std::atomic<std::uint8_t>> attempted, rejected, ran;
    std::atomic<std::uint64_t> executed{0};
    std::atomic<std::uint64_t> inside_rejected{0};
    std::atomic<std::uint64_t> unexpected_errors{0};
};

/// Posts task `id`; returns false if the executor rejected it.
bool try_post(weft::executor& ex, ledger& led, std::size_t id);

void run_task(weft::executor& ex, ledger& led, std::size_t id) {
    led.ran[id].fetch_add(1, std::memory_order_relaxed);
    if (id < led.outside && id % 3 == 0) {
        for (std::size_t c = 0; c < ledger::k_children; ++c)
            if (!try_post(ex, led, led.outside + id * ledger::k_children + c))
                led.inside_rejected.fetch_add(1, std::memory_order_relaxed);
    }
    led.executed.fetch_add(1, std::memory_order_relaxed);
}

bool try_post(weft::executor& ex, ledger& led, std::size_t id) {
    led.attempted[id].store(1, std::memory_order_relaxed);
    try {
        ex.post([&ex, &led, id] { run_task(ex, led, id); });
        return true;
    } catch (const weft::executor_shutdown_error&) {
        led.rejected[id].store(1, std::memory_order_relaxed);
    } catch (...) {
        led.unexpected_errors.fetch_add(1, std::memory_order_relaxed);
        led.rejected[id].store(1, std::memory_order_relaxed);
    }
    return false;
}

struct iteration_result {
    std::uint64_t attempted = 0, rejected = 0, executed = 0;
};

/// One randomized iteration; checks its invariants with gtest assertions.
iteration_result run_iteration(std::mt19937_64& rng, std::uint64_t iteration) {
    const std::size_t workers = 1 + rng() % 4;
    const int producers = 2 + static_cast<int>(rng() % 2);
    const std::size_t per_producer = 50 + rng() % 400;
    const auto end = static_cast<ending>(rng() % 3);
    const std::size_t outside = per_producer * static_cast<std::size_t>(producers);
    // The moment: when this many posts were attempted (or the producers are done).
    const std::size_t target = rng() % (outside + 1);
    SCOPED_TRACE(::testing::Message()
                 << "iteration " << iteration << ": " << workers << " workers, " << producers
                 << " producers x " << per_producer << ", ending " << static_cast<int>(end)
                 << " after " << target << " posts");

    ledger led{outside};
    std::atomic<std::size_t> attempts{0};
    std::atomic<int> producers_done{0};
    std::atomic<std::uint64_t> non_monotonic{0};
    std::optional<weft::executor> ex{std::in_place, weft::executor_options{.workers = workers}};

    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(producers));
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            bool seen_rejection = false;
            for (std::size_t i = 0; i < per_producer; ++i) {
                const std::size_t id = static_cast<std::size_t>(p) * per_producer + i;
                const bool accepted = try_post(*ex, led, id);
                attempts.fetch_add(1, std::memory_order_relaxed);
                // Once rejected, always rejected: shutdown is not undone.
                if (accepted && seen_rejection) non_monotonic.fetch_add(1);
                seen_rejection |= !accepted;
                // In destroy mode the producers stop at the chosen moment, so that the
                // destructor starts with tasks (and their children) in flight.
                if (end == ending::destroy && attempts.load(std::memory_order_relaxed) >= target)
                    break;
            }
            producers_done.fetch_add(1);
        });
    while (attempts.load() < target && producers_done.load() < producers) std::this_thread::yield();

    std::uint64_t executed_at_shutdown = 0;
    if (end == ending::destroy) {
        for (auto& t : threads) t.join();
        ex.reset();
        executed_at_shutdown = led.executed.load();
    } else {
        std::optional<std::thread> second;
        std::atomic<bool> go{false};
        if (end == ending::shutdown_two_threads)
            second.emplace([&] {
                while (!go.load()) std::this_thread::yield();
                ex->shutdown();
            });
        go.store(true);
        ex->shutdown();
        if (second) second->join();
        // Both calls returned: the workers are joined, so nothing may run from now on.
        executed_at_shutdown = led.executed.load();
        EXPECT_TRUE(ex->is_shut_down());
        for (auto& t : threads) t.join();
        ex.reset();  // a second, idempotent shutdown
    }

    iteration_result res;
    std::size_t wrong = 0;
    for (std::size_t id = 0; id < led.attempted.size(); ++id) {
        const bool attempted = led.attempted[id].load() != 0;
        const bool rejected = led.rejected[id].load() != 0;
        const unsigned ran = led.ran[id].load();
        res.attempted += attempted;
        res.rejected += rejected;
        res.executed += ran;
        const unsigned want = attempted && !rejected ? 1 : 0;
        if (ran != want && wrong++ < 10)
            ADD_FAILURE() << "task " << id << (id < outside ? " (outside)" : " (child)")
                          << (attempted ? " attempted" : " never posted")
                          << (rejected ? ", rejected" : ", accepted") << ", ran " << ran
                          << " times";
    }
    EXPECT_EQ(wrong, 0U);
    EXPECT_EQ(res.executed + res.rejected, res.attempted);
    EXPECT_EQ(led.executed.load(), res.executed);
    EXPECT_EQ(led.executed.load(), executed_at_shutdown) << "a task ran after shutdown returned";
    EXPECT_EQ(led.inside_rejected.load(), 0U)
        << "a post from a worker was rejected during the drain";
    EXPECT_EQ(led.unexpected_errors.load(), 0U)
        << "post threw something else than executor_shutdown_error";
    EXPECT_EQ(non_monotonic.load(), 0U) << "a post was accepted after an earlier one was rejected";
    return res;
}

TEST(ShutdownStress, RandomShutdownsRunOrRejectEveryPostExactlyOnce) {
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return "iterations done: " + std::to_string(progress.load()); }};
    std::mt19937_64 rng{stress::seed()};
    const std::uint64_t iterations = stress::scaled(4'000, 10);
    iteration_result total;
    for (std::uint64_t i = 0; i < iterations && !HasFailure(); ++i) {
        const iteration_result r = run_iteration(rng, i);
        total.attempted += r.attempted;
        total.rejected += r.rejected;
        total.executed += r.executed;
        progress.fetch_add(1, std::memory_order_relaxed);
    }
    std::printf("[   INFO   ] %llu iterations: %llu posts attempted, %llu ran, %llu rejected\n",
                static_cast<unsigned long long>(iterations),
                static_cast<unsigned long long>(total.attempted),
                static_cast<unsigned long long>(total.executed),
                static_cast<unsigned long long>(total.rejected));
}

/// A task that waits until shutdown has begun, then posts `k_children` children; half of
/// them fork-join two grandchildren on their worker. All of it must run before the
/// destructor (or shutdown()) returns.
void drain_spawned_while_draining(std::size_t workers, bool explicit_shutdown) {
    constexpr int k_children = 100;
    std::atomic<int> children{0};
    std::atomic<int> grandchildren{0};
    std::atomic<int> rejected{0};
    std::atomic<bool> spawner_ran{false};
    {
        weft::executor ex{weft::executor_options{.workers = workers}};
        ex.post([&] {
            while (!ex.is_shut_down()) std::this_thread::yield();
            spawner_ran.store(true);
            for (int c = 0; c < k_children; ++c) {
                try {
                    ex.post([&ex, &children, &grandchildren, c] {
                        if (c % 2 == 0) {
                            weft::task_group g{ex};
                            g.run([&grandchildren] { grandchildren.fetch_add(1); });
                            g.run([&grandchildren] { grandchildren.fetch_add(1); });
                            g.wait();
                        }
                        children.fetch_add(1);
                    });
                } catch (const weft::executor_shutdown_error&) {
                    rejected.fetch_add(1);
                }
            }
        });
        if (explicit_shutdown) {
            ex.shutdown();
            ASSERT_EQ(children.load(), k_children) << "shutdown() returned before the drain ended";
            // Outside posts are refused now, by task_group::run as well as by post().
            EXPECT_THROW(ex.post([] {}), weft::executor_shutdown_error);
            weft::task_group g{ex};
            EXPECT_THROW(g.run([] {}), weft::executor_shutdown_error);
            g.wait();  // nothing was counted, so nothing to wait for
        }
    }
    EXPECT_TRUE(spawner_ran.load());
    EXPECT_EQ(rejected.load(), 0);
    EXPECT_EQ(children.load(), k_children);
    EXPECT_EQ(grandchildren.load(), k_children);  // two for each even child
}

// Repeats drain_spawned_while_draining on 1–4 workers, ending by explicit shutdown() or
// by destruction.
void repeat_drain_spawned_while_draining(bool explicit_shutdown) {
    stress::watchdog dog{stress::k_watchdog_limit};
    std::mt19937_64 rng{stress::seed()};
    const std::uint64_t reps = stress::scaled(1'500, 5);
    for (std::uint64_t r = 0; r < reps && !::testing::Test::HasFailure(); ++r) {
        const std::size_t workers = 1 + rng() % 4;
        SCOPED_TRACE(::testing::Message() << "repetition " << r << ", " << workers << " workers");
        drain_spawned_while_draining(workers, explicit_shutdown);
    }
}

TEST(ShutdownStress, DestructorDrainsTasksSpawnedWhileDraining) {
    repeat_drain_spawned_while_draining(false);
}

TEST(ShutdownStress, ShutdownDrainsTasksSpawnedWhileDraining) {
    repeat_drain_spawned_while_draining(true);
}

}  // namespace
