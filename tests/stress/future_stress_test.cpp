// Stress of futures: set_value racing then()/add_done_callback, exceptions that must
// arrive intact, 1 000 nested get()s on one worker, fib with async/get and with
// when_all/then, cancel() racing the task start, and many outside threads blocked on
// futures that workers complete (a lost wake-up hangs, and the watchdog fails it).
#include "stress_scale.hpp"

#include <weft/future.hpp>
#include <weft/when_all.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

namespace stress = weft::stress;
using namespace std::chrono_literals;

std::string workers_name(const ::testing::TestParamInfo<std::size_t>& info) {
    return std::to_string(info.param) + "_workers";
}

// ---- (1) set_value racing then() and add_done_callback -----------------------------

/// One batch item: a promise, the futures of what was attached to it, and how often each
/// attachment ran.
struct race_item {
    explicit race_item(weft::executor* ex)
        : promise{ex != nullptr ? weft::promise<std::uint64_t>{*ex} : weft::promise<std::uint64_t>{}} {}
    weft::promise<std::uint64_t> promise;
    weft::future<std::uint64_t> then_future;
    weft::future<std::uint64_t> inline_future;
    std::atomic<std::uint32_t> then_runs{0};
    std::atomic<std::uint32_t> inline_runs{0};
    std::atomic<std::uint32_t> callback_runs{0};
    std::atomic<std::uint64_t> callback_value{0};
};

/// Rounds of `batch` items: a setter thread calls set_value on every item while an
/// attacher thread adds then(), then_inline() and add_done_callback() to the same items,
/// in the same order, so that most attachments race their item's completion.
void race_set_value_with_attach(weft::executor* ex, std::uint64_t total) {
    constexpr std::size_t k_batch = 512;
    const std::uint64_t rounds = (total + k_batch - 1) / k_batch;
    std::barrier sync{2};
    std::vector<std::unique_ptr<race_item>> items(k_batch);
    std::thread setter{[&] {
        for (std::uint64_t r = 0; r < rounds; ++r) {
            sync.arrive_and_wait();  // the batch is ready
            for (std::size_t i = 0; i < k_batch; ++i) items[i]->promise.set_value(r * k_batch + i);
            sync.arrive_and_wait();  // the batch is complete
        }
    }};
    for (std::uint64_t r = 0; r < rounds; ++r) {
        for (auto& item : items) item = std::make_unique<race_item>(ex);
        sync.arrive_and_wait();
        for (auto& item : items) {
            race_item& it = *item;
            const auto f = it.promise.get_future();
            it.then_future = f.then([&it](std::uint64_t v) {
                it.then_runs.fetch_add(1, std::memory_order_relaxed);
                return v;
            });
            it.inline_future = f.then_inline([&it](std::uint64_t v) {
                it.inline_runs.fetch_add(1, std::memory_order_relaxed);
                return v + 1;
            });
            f.add_done_callback([&it](const weft::future<std::uint64_t>& g) {
                it.callback_value.store(g.get(), std::memory_order_relaxed);
                it.callback_runs.fetch_add(1, std::memory_order_relaxed);
            });
        }
        sync.arrive_and_wait();
        for (std::size_t i = 0; i < k_batch; ++i) {
            race_item& it = *items[i];
            const std::uint64_t want = r * k_batch + i;
            ASSERT_EQ(it.then_future.get(), want) << "round " << r << " item " << i;
            ASSERT_EQ(it.inline_future.get(), want + 1) << "round " << r << " item " << i;
            // A done-callback runs before the add_done_callback that found the state done
            // returns, or before set_value returns: both happened before the barrier.
            ASSERT_EQ(it.callback_runs.load(), 1U) << "round " << r << " item " << i;
            ASSERT_EQ(it.callback_value.load(), want) << "round " << r << " item " << i;
            ASSERT_EQ(it.then_runs.load(), 1U) << "round " << r << " item " << i;
            ASSERT_EQ(it.inline_runs.load(), 1U) << "round " << r << " item " << i;
        }
    }
    setter.join();
    if (ex != nullptr) ex->shutdown();  // nothing can run a second time after this
    for (auto& item : items) {
        ASSERT_EQ(item->then_runs.load(), 1U);
        ASSERT_EQ(item->inline_runs.load(), 1U);
    }
}

TEST(FutureRaceStress, SetValueRacesAttachWithoutExecutor) {
    stress::watchdog dog{stress::k_watchdog_limit};
    race_set_value_with_attach(nullptr, stress::scaled(500'000, 2'048));
}

TEST(FutureRaceStress, SetValueRacesAttachOnAnExecutor) {
    stress::watchdog dog{stress::k_watchdog_limit};
    weft::executor ex{weft::executor_options{.workers = 2}};
    race_set_value_with_attach(&ex, stress::scaled(500'000, 2'048));
}

// ---- (2) exceptions arrive intact ---------------------------------------------------

/// The exception every failing task throws: which item, which stage.
struct item_failure : std::runtime_error {
    item_failure(std::size_t i, int s) : std::runtime_error{"item failed"}, item{i}, stage{s} {}
    std::size_t item;
    int stage;
};

/// Throws item_failure{i, stage} and records the exception_ptr being thrown in `slot`.
[[noreturn]] void throw_recorded(std::exception_ptr& slot, std::size_t i, int stage) {
    try {
        throw item_failure{i, stage};
    } catch (...) {
        slot = std::current_exception();
        throw;
    }
}

/// The exception_ptr that `f.get()` throws, or null if it returns.
template <class T>
std::exception_ptr thrown_by_get(const weft::future<T>& f) {
    try {
        f.get();
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

class FutureExceptionStress : public ::testing::TestWithParam<std::size_t> {};

// Item i fails in the task (i % 3 == 0), in its then() continuation (i % 3 == 1), or not
// at all (i % 3 == 2). Every get() downstream (then, a second then, a when_all member)
// rethrows the very exception_ptr that was thrown.
TEST_P(FutureExceptionStress, ExceptionsArriveIntactThroughTasksContinuationsAndWhenAll) {
    stress::watchdog dog{stress::k_watchdog_limit};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::size_t n = stress::scaled(60'000, 600);
    constexpr std::size_t k_group = 16;
    std::vector<std::exception_ptr> thrown(n);
    std::vector<weft::future<std::size_t>> firsts, seconds;
    firsts.reserve(n);
    seconds.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto task = weft::async(ex, [&thrown, i]() -> std::size_t {
            if (i % 3 == 0) throw_recorded(thrown[i], i, 0);
            return i;
        });
        auto first = task.then([&thrown, i](std::size_t v) -> std::size_t {
            if (i % 3 == 1) throw_recorded(thrown[i], i, 1);
            return v;
        });
        seconds.push_back(first.then([](std::size_t v) { return v * 2; }));
        firsts.push_back(std::move(first));
    }
    std::vector<weft::future<std::vector<weft::future<std::size_t>>>> groups;
    for (std::size_t g = 0; g < n; g += k_group)
        groups.push_back(weft::when_all(firsts.begin() + static_cast<std::ptrdiff_t>(g),
                                        firsts.begin() + static_cast<std::ptrdiff_t>(std::min(n, g + k_group))));
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 3 == 2) {
            ASSERT_EQ(seconds[i].get(), 2 * i) << "item " << i;
            ASSERT_EQ(firsts[i].exception(), nullptr) << "item " << i;
            continue;
        }
        const std::exception_ptr downstream = thrown_by_get(seconds[i]);  // waits: thrown[i] is set now
        ASSERT_NE(thrown[i], nullptr) << "item " << i;
        ASSERT_EQ(downstream, thrown[i]) << "item " << i;
        ASSERT_EQ(thrown_by_get(firsts[i]), thrown[i]) << "item " << i;
        ASSERT_EQ(firsts[i].exception(), thrown[i]) << "item " << i;
    }
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto& members = groups[g].get();
        for (std::size_t k = 0; k < members.size(); ++k) {
            const std::size_t i = g * k_group + k;
            ASSERT_TRUE(members[k] == firsts[i]);
            if (i % 3 == 2) continue;
            try {
                members[k].get();
                FAIL() << "item " << i << " did not rethrow";
            } catch (const item_failure& e) {
                ASSERT_EQ(std::current_exception(), thrown[i]) << "item " << i;
                ASSERT_EQ(e.item, i);
                ASSERT_EQ(e.stage, i % 3 == 0 ? 0 : 1);
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Workers, FutureExceptionStress, ::testing::Values(1, 2, 4), workers_name);

// ---- (3) 1 000 nested get()s on one worker -----------------------------------------

/// Level `level` asyncs the next level and get()s it: on one worker each get() must run
/// the next level itself, `depth` frames deep.
std::uint64_t nested_get(weft::executor& ex, int level, int depth) {
    if (level + 1 == depth) return 1;
    return weft::async(ex, nested_get, std::ref(ex), level + 1, depth).get() + 1;
}

TEST(FutureNestedGetStress, ThousandNestedGetsOnOneWorker) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr int k_depth = 1'000;
    weft::executor ex{weft::executor_options{.workers = 1}};
    const std::uint64_t reps = stress::scaled(100, 3);
    for (std::uint64_t r = 0; r < reps; ++r)
        ASSERT_EQ(weft::async(ex, nested_get, std::ref(ex), 0, k_depth).get(), std::uint64_t{k_depth})
            << "repetition " << r;
}

// ---- (4) fib ------------------------------------------------------------------------

std::uint64_t serial_fib(int n) {
    return n < 2 ? static_cast<std::uint64_t>(n) : serial_fib(n - 1) + serial_fib(n - 2);
}

/// fib with async + get, no serial cutoff.
std::uint64_t async_fib(weft::executor& ex, int n) {
    if (n < 2) return static_cast<std::uint64_t>(n);
    const auto a = weft::async(ex, async_fib, std::ref(ex), n - 1);
    const std::uint64_t b = async_fib(ex, n - 2);
    return a.get() + b;
}

/// fib as a graph of continuations: nothing waits until the caller's get().
weft::future<std::uint64_t> continuation_fib(weft::executor& ex, int n) {
    if (n < 2) return weft::make_ready_future(static_cast<std::uint64_t>(n));
    // then() unwraps the future<future<u64>> that async returns here.
    auto a = weft::async(ex, [&ex, n] { return continuation_fib(ex, n - 1); })
                 .then([](const weft::future<std::uint64_t>& f) { return f; });
    return weft::when_all(std::move(a), continuation_fib(ex, n - 2))
        .then([](const std::tuple<weft::future<std::uint64_t>, weft::future<std::uint64_t>>& t) {
            return std::get<0>(t).get() + std::get<1>(t).get();
        });
}

class FutureFibStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(FutureFibStress, AsyncGetFibEqualsSerial) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr int k_n = 25;
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t reps = stress::scaled(3, 1);
    for (std::uint64_t r = 0; r < reps; ++r)
        ASSERT_EQ(weft::async(ex, async_fib, std::ref(ex), k_n).get(), serial_fib(k_n)) << "repetition " << r;
}

TEST_P(FutureFibStress, WhenAllThenFibEqualsSerial) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr int k_n = 25;
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    // Built from a worker, so the continuations spread over the workers from the start.
    const auto f = weft::async(ex, [&ex] { return continuation_fib(ex, k_n); })
                       .then([](const weft::future<std::uint64_t>& inner) { return inner; });
    ASSERT_EQ(f.get(), serial_fib(k_n));
}

INSTANTIATE_TEST_SUITE_P(Workers, FutureFibStress, ::testing::Values(1, 2, 4), workers_name);

// ---- (5) cancel() racing the task start ---------------------------------------------

class FutureCancelStress : public ::testing::TestWithParam<std::size_t> {};

// Each batch: async tasks, then cancel() on every other one while the workers start
// them. Afterwards (the executor drained): each future ended exactly once, as cancelled
// or finished; cancel() returned true iff it is cancelled; the body ran iff not.
TEST_P(FutureCancelStress, CancelRacesTheTaskStart) {
    stress::watchdog dog{stress::k_watchdog_limit};
    const std::uint64_t batches = stress::scaled(200, 5);
    constexpr std::size_t k_batch = 250;
    std::uint64_t cancelled_total = 0, finished_total = 0;
    for (std::uint64_t b = 0; b < batches; ++b) {
        std::vector<std::atomic<std::uint32_t>> ran(k_batch);
        std::vector<std::atomic<std::uint32_t>> ends(k_batch);
        std::vector<weft::future<std::size_t>> fs;
        std::vector<int> cancel_result(k_batch, -1);
        fs.reserve(k_batch);
        {
            weft::executor ex{weft::executor_options{.workers = GetParam()}};
            for (std::size_t i = 0; i < k_batch; ++i) {
                fs.push_back(weft::async(ex, [&ran, i] {
                    ran[i].fetch_add(1, std::memory_order_relaxed);
                    return i;
                }));
                fs.back().add_done_callback([&ends, i](const weft::future<std::size_t>&) {
                    ends[i].fetch_add(1, std::memory_order_relaxed);
                });
            }
            for (std::size_t i = 0; i < k_batch; ++i)
                if ((i + b) % 2 == 0) cancel_result[i] = fs[i].cancel() ? 1 : 0;
        }  // ~executor drains: every task was started or skipped
        for (std::size_t i = 0; i < k_batch; ++i) {
            const weft::future<std::size_t>& f = fs[i];
            ASSERT_TRUE(f.done()) << "batch " << b << " item " << i;
            ASSERT_EQ(ends[i].load(), 1U) << "batch " << b << " item " << i;
            const bool cancelled = f.cancelled();
            if (cancel_result[i] != -1) ASSERT_EQ(cancel_result[i] == 1, cancelled) << "batch " << b << " item " << i;
            else ASSERT_FALSE(cancelled) << "batch " << b << " item " << i;
            ASSERT_EQ(ran[i].load(), cancelled ? 0U : 1U) << "batch " << b << " item " << i;
            if (cancelled) {
                ASSERT_THROW(f.get(), weft::cancelled_error);
                ++cancelled_total;
            } else {
                ASSERT_EQ(f.get(), i);
                ++finished_total;
            }
        }
    }
    EXPECT_GT(finished_total, 0U);
    std::printf("[   INFO   ] cancelled %llu, finished %llu\n", static_cast<unsigned long long>(cancelled_total),
                static_cast<unsigned long long>(finished_total));
}

INSTANTIATE_TEST_SUITE_P(Workers, FutureCancelStress, ::testing::Values(1, 2, 4), workers_name);

// ---- (6) outside threads blocked on futures that workers complete --------------------

class FutureWakeupStress : public ::testing::TestWithParam<std::size_t> {};

// Rounds: the workers complete a handful of futures after a little work while several
// outside threads wait on all of them, each with get(), wait(), wait_for or result with
// a timeout. A lost wake-up leaves a waiter blocked forever: the watchdog fails the test
// (the timed waits use bounds far beyond any healthy round, and must not time out).
TEST_P(FutureWakeupStress, OutsideWaitersAreAllWoken) {
    std::atomic<std::uint64_t> round_now{0};
    stress::watchdog dog{stress::k_watchdog_limit, [&] { return "round " + std::to_string(round_now.load()); }};
    constexpr std::size_t k_waiters = 6;
    constexpr std::size_t k_futures = 8;
    const std::uint64_t rounds = stress::scaled(2'000, 40);
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    std::vector<weft::future<std::uint64_t>> fs(k_futures);
    std::barrier sync{k_waiters + 1};
    std::atomic<std::uint64_t> failures{0};
    std::vector<std::thread> waiters;
    for (std::size_t w = 0; w < k_waiters; ++w)
        waiters.emplace_back([&, w] {
            for (std::uint64_t r = 0; r < rounds; ++r) {
                sync.arrive_and_wait();  // fs holds this round's futures
                std::uint64_t sum = 0;
                for (std::size_t k = 0; k < k_futures; ++k) {
                    const auto& f = fs[(k + w) % k_futures];
                    switch ((w + r + k) % 4) {
                        case 0: sum += f.get(); break;
                        case 1: f.wait(); sum += f.get(); break;
                        case 2:
                            if (f.wait_for(1h) != std::future_status::ready) failures.fetch_add(1);
                            sum += f.get();
                            break;
                        default: sum += f.result(std::chrono::hours::max()); break;
                    }
                }
                if (sum != r * k_futures + k_futures * (k_futures - 1) / 2) failures.fetch_add(1);
                sync.arrive_and_wait();  // done with this round's futures
            }
        });
    for (std::uint64_t r = 0; r < rounds; ++r) {
        round_now.store(r);
        for (std::size_t k = 0; k < k_futures; ++k) {
            if (k % 2 == 0) {
                fs[k] = weft::async(ex, [r, k] {
                    for (std::size_t spin = 0; spin < 4 * k; ++spin) std::this_thread::yield();  // a little delay
                    return r + k;
                });
            } else {  // a promise completed by a posted task
                auto p = std::make_shared<weft::promise<std::uint64_t>>();
                fs[k] = p->get_future();
                ex.post([p, r, k] { p->set_value(r + k); });
            }
        }
        sync.arrive_and_wait();
        sync.arrive_and_wait();
    }
    for (auto& t : waiters) t.join();
    EXPECT_EQ(failures.load(), 0U);
}

INSTANTIATE_TEST_SUITE_P(Workers, FutureWakeupStress, ::testing::Values(1, 2, 4), workers_name);

}  // namespace
