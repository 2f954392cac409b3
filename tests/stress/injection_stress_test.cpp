// Stress of submission: outside producer threads posting through the injection queue,
// and tasks posting from the workers. Every task runs exactly once; counts, sums and the
// executor's own statistics agree.
#include "stress_scale.hpp"

#include <weft/executor.hpp>
#include <weft/this_worker.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stress = weft::stress;

constexpr int k_producers = 4;

/// What every task of a run records: a per-task counter, the sum of ids, a latch.
struct ledger {
    explicit ledger(std::size_t n) : ran(n), done(static_cast<std::ptrdiff_t>(n)) {}

    void record(std::size_t id) {
        if (id < ran.size()) {
            ran[id].fetch_add(1, std::memory_order_relaxed);
            sum.fetch_add(id + 1, std::memory_order_relaxed);
        } else {
            bad.fetch_add(1, std::memory_order_relaxed);  // a callable arrived corrupted
        }
        done.count_down();  // last: the waiter may check and tear down right after
    }

    /// Checks that each of the n tasks ran exactly once and the sum is complete.
    void check() const {
        std::size_t wrong = 0;
        for (std::size_t id = 0; id < ran.size(); ++id) {
            const unsigned c = ran[id].load(std::memory_order_relaxed);
            if (c != 1 && wrong++ < 10) ADD_FAILURE() << "task " << id << " ran " << c << " times";
        }
        EXPECT_EQ(wrong, 0U) << "tasks not run exactly once";
        EXPECT_EQ(bad.load(), 0U) << "tasks whose captured state arrived corrupted";
        const std::uint64_t n = ran.size();
        EXPECT_EQ(sum.load(), n * (n + 1) / 2);
    }

    std::vector<std::atomic<std::uint8_t>> ran;
    std::atomic<std::uint64_t> sum{0};
    std::atomic<std::uint64_t> bad{0};
    std::latch done;
};

/// Posts task `id`; its callable is one of three sizes, so the small and large node
/// pools and the heap path are all used, and nodes migrate between threads.
void post_recording(weft::executor& ex, ledger& led, std::size_t id) {
    switch (id % 3) {
        case 0:
            ex.post([&led, id] { led.record(id); });
            break;
        case 1: {
            std::array<std::uint64_t, 8> pad{};  // fits the 128-byte class
            pad[id % 8] = id;
            ex.post([&led, id, pad] { led.record(pad[id % 8] == id ? id : ~std::size_t{0}); });
            break;
        }
        default: {
            std::array<std::uint64_t, 24> pad{};  // too big for a pooled node: the heap
            pad[id % 24] = id;
            ex.post([&led, id, pad] { led.record(pad[id % 24] == id ? id : ~std::size_t{0}); });
            break;
        }
    }
}

/// Starts `k_producers` threads together, each calling `body(p)`, and joins them.
template <class Body>
void run_producers(Body body) {
    std::latch start{k_producers};
    std::vector<std::thread> producers;
    producers.reserve(k_producers);
    for (int p = 0; p < k_producers; ++p)
        producers.emplace_back([&, p] {
            start.arrive_and_wait();
            body(p);
        });
    for (auto& t : producers) t.join();
}

std::uint64_t total_executed(const weft::executor& ex) {
    std::uint64_t n = 0;
    for (const auto& s : ex.stats()) n += s.executed;
    return n;
}

std::uint64_t total_injected(const weft::executor& ex) {
    std::uint64_t n = 0;
    for (const auto& s : ex.stats()) n += s.injected;
    return n;
}

class InjectionStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(InjectionStress, OutsidePostsRunExactlyOnce) {
    stress::watchdog dog{stress::k_watchdog_limit};
    const std::size_t per_producer = stress::scaled(400'000, 1'000);
    const std::size_t n = per_producer * k_producers;
    ledger led{n};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};

    run_producers([&](int p) {
        const std::size_t base = static_cast<std::size_t>(p) * per_producer;
        for (std::size_t i = 0; i < per_producer; ++i) post_recording(ex, led, base + i);
    });
    led.done.wait();
    led.check();
    // Every task was counted by the worker that ran it before its body ran, and every
    // one came through the injection queue.
    EXPECT_EQ(total_executed(ex), n);
    EXPECT_EQ(total_injected(ex), n);
}

TEST_P(InjectionStress, PostsFromWorkersRunExactlyOnce) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr std::size_t k_children = 3;  // each outside task posts this many from its worker
    const std::size_t per_producer = stress::scaled(150'000, 400);
    const std::size_t outside = per_producer * k_producers;
    const std::size_t n = outside * (1 + k_children);
    ledger led{n};
    std::atomic<std::uint64_t> posted_off_worker{0};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};

    run_producers([&](int p) {
        const std::size_t base = static_cast<std::size_t>(p) * per_producer;
        for (std::size_t i = 0; i < per_producer; ++i) {
            const std::size_t id = base + i;
            ex.post([&, id] {
                if (!weft::this_worker::index()) posted_off_worker.fetch_add(1);
                // Children ids: outside + id * k_children + c. Posted from this worker,
                // so they go to its deque (and get stolen by the others).
                for (std::size_t c = 0; c < k_children; ++c)
                    post_recording(ex, led, outside + id * k_children + c);
                led.record(id);
            });
        }
    });
    led.done.wait();
    led.check();
    EXPECT_EQ(posted_off_worker.load(), 0U) << "a posted task ran off the executor's workers";
    EXPECT_EQ(total_executed(ex), n);
    EXPECT_EQ(total_injected(ex), outside) << "posts from workers must not use the injection queue";
}

INSTANTIATE_TEST_SUITE_P(Workers, InjectionStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
