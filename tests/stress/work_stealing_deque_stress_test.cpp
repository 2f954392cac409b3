// Stress of the Chase–Lev deque: one owner pushing and popping, 1–8 thieves stealing.
// Invariants: every value pushed is taken exactly once (by a pop or a steal), the sums
// match, the payload a value points to is seen complete by whoever takes it (ThreadSanitizer
// checks the publication), and an empty deque stays empty under any mix of pops and steals.
#include "stress_scale.hpp"

#include <weft/detail/work_stealing_deque.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using value_type = std::int64_t;  // 1..n; 0 is what a broken deque would invent
using deque = weft::detail::work_stealing_deque<value_type>;
using weft::detail::steal_status;
namespace stress = weft::stress;

/// Takes a lot of spinning out of an oversubscribed machine (9 threads on 2 cores).
void relax(std::uint32_t& misses) {
    if (++misses % 64 == 0) std::this_thread::yield();
}

/// Per-thread tallies, on their own cache lines.
struct alignas(64) tally {
    std::uint64_t taken = 0;      // successful pops or steals
    std::uint64_t sum = 0;        // of the values taken
    std::uint64_t failed = 0;     // empty pops, empty or retry steals
    std::uint64_t bad_value = 0;  // out of range, or payload not what the owner wrote
};

/// Everything the owner and the thieves of one run share.
struct shared_state {
    explicit shared_state(std::int64_t n)
        : taken(static_cast<std::size_t>(n) + 1), payload(static_cast<std::size_t>(n) + 1) {}

    // Records that `v` was taken; checks the payload the owner wrote before pushing it.
    void take(value_type v, tally& t) {
        if (v < 1 || v >= static_cast<value_type>(taken.size())) {
            ++t.bad_value;
            return;
        }
        // Plain read: the owner wrote it before push(); a missing release/acquire pair in
        // the deque is a data race here that ThreadSanitizer reports.
        if (payload[static_cast<std::size_t>(v)] != ~static_cast<std::uint64_t>(v)) ++t.bad_value;
        taken[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed);
        ++t.taken;
        t.sum += static_cast<std::uint64_t>(v);
    }

    std::vector<std::atomic<std::uint8_t>> taken;  // per value: how many times taken
    std::vector<std::uint64_t> payload;            // per value: written by the owner only
};

struct run_totals {
    std::uint64_t pushes = 0, pops = 0, steals = 0, failed = 0;
};

/// One owner and `thieves` thieves on a series of fresh deques (capacity 2, so every
/// deque grows several times while being robbed). The owner pushes bursts of random
/// length and pops random numbers of elements; the thieves steal until told to stop.
run_totals run_owner_and_thieves(int thieves, std::int64_t n, std::uint64_t seed) {
    shared_state st{n};
    std::vector<tally> tallies(static_cast<std::size_t>(thieves) + 1);
    std::atomic<deque*> current{nullptr};
    std::atomic<std::uint64_t> generation{0};  // odd: a deque is live
    std::atomic<int> thieves_in_generation{0};
    std::atomic<bool> finished{false};

    auto thief = [&](tally& t) {
        std::uint64_t seen = 0;
        std::uint32_t misses = 0;
        for (;;) {
            // Wait for the next live deque (or the end).
            std::uint64_t g = generation.load(std::memory_order_acquire);
            while (g == seen || g % 2 == 0) {
                if (finished.load(std::memory_order_acquire)) return;
                relax(misses);
                g = generation.load(std::memory_order_acquire);
            }
            seen = g;
            // seq_cst (both): a Dekker pair with the owner's retirement below — either the
            // owner sees us inside, or we see the deque retired.
            thieves_in_generation.fetch_add(1);
            if (generation.load() == g) {
                deque* d = current.load(std::memory_order_acquire);
                while (generation.load(std::memory_order_acquire) == g) {
                    auto r = d->steal();
                    if (r.status == steal_status::success) {
                        st.take(r.value, t);
                    } else {
                        ++t.failed;
                        relax(misses);
                    }
                }
            }
            thieves_in_generation.fetch_sub(1, std::memory_order_acq_rel);
        }
    };

    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(thieves));
    for (int i = 0; i < thieves; ++i)
        threads.emplace_back(thief, std::ref(tallies[static_cast<std::size_t>(i) + 1]));

    tally& own = tallies[0];
    std::mt19937_64 rng{seed};
    std::uint64_t pushes = 0;
    value_type next = 1;
    constexpr std::int64_t k_per_deque = 1 << 15;
    while (next <= n) {
        auto d = std::make_unique<deque>(2);
        current.store(d.get(), std::memory_order_release);
        generation.fetch_add(1, std::memory_order_acq_rel);  // now odd: live
        const value_type stop = std::min<value_type>(n + 1, next + k_per_deque);
        while (next < stop) {
            // A burst of pushes (sometimes long enough to grow the ring), then some pops.
            const auto want =
                static_cast<std::int64_t>(rng() % 4 == 0 ? 1 + rng() % 512 : 1 + rng() % 8);
            const std::int64_t burst = std::min(stop - next, want);
            for (std::int64_t i = 0; i < burst; ++i, ++next) {
                st.payload[static_cast<std::size_t>(next)] = ~static_cast<std::uint64_t>(next);
                d->push(next);
                ++pushes;
            }
            const auto pops = rng() % (static_cast<std::uint64_t>(burst) + 2);
            for (std::uint64_t i = 0; i < pops; ++i) {
                value_type v = 0;
                if (d->pop(v))
                    st.take(v, own);
                else
                    ++own.failed;
            }
        }
        // Drain: pop until empty; whatever the thieves got in between is theirs.
        value_type v = 0;
        while (d->pop(v)) st.take(v, own);
        if (d->size_estimate() != 0) ++own.bad_value;
        // Retire the deque once no thief can still be inside steal().
        generation.fetch_add(1);  // now even: retired; seq_cst: the Dekker pair above
        std::uint32_t misses = 0;
        while (thieves_in_generation.load() != 0) relax(misses);
    }
    finished.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();

    run_totals totals;
    totals.pushes = pushes;
    std::uint64_t sum = 0, taken = 0, bad = 0;
    for (std::size_t i = 0; i < tallies.size(); ++i) {
        sum += tallies[i].sum;
        taken += tallies[i].taken;
        bad += tallies[i].bad_value;
        totals.failed += tallies[i].failed;
        (i == 0 ? totals.pops : totals.steals) += tallies[i].taken;
    }
    EXPECT_EQ(bad, 0U) << "values out of range, torn payloads or a non-empty drained deque";
    EXPECT_EQ(pushes, static_cast<std::uint64_t>(n));
    EXPECT_EQ(taken, static_cast<std::uint64_t>(n));
    const auto un = static_cast<std::uint64_t>(n);
    EXPECT_EQ(sum, un * (un + 1) / 2);
    std::int64_t wrong = 0;
    for (std::size_t v = 1; v < st.taken.size(); ++v) {
        const unsigned count = st.taken[v].load(std::memory_order_relaxed);
        if (count != 1 && wrong++ < 10)
            ADD_FAILURE() << "value " << v << " taken " << count << " times";
    }
    EXPECT_EQ(wrong, 0) << "values not taken exactly once";
    return totals;
}

class WorkStealingDequeStress : public ::testing::TestWithParam<int> {};

// 4 parameterisations x 2 x 5e6 = 4e7 successful operations at scale 1, plus the
// failed pops and steals (reported).
TEST_P(WorkStealingDequeStress, EveryValueTakenExactlyOnceWhileGrowing) {
    stress::watchdog dog{stress::k_watchdog_limit};
    const int thieves = GetParam();
    const auto n = static_cast<std::int64_t>(stress::scaled(5'000'000, 10'000));
    const run_totals t = run_owner_and_thieves(thieves, n, stress::seed());
    std::printf("[   INFO   ] %d thieves: %llu pushes, %llu pops, %llu steals, %llu failed\n",
                thieves, static_cast<unsigned long long>(t.pushes),
                static_cast<unsigned long long>(t.pops), static_cast<unsigned long long>(t.steals),
                static_cast<unsigned long long>(t.failed));
}

INSTANTIATE_TEST_SUITE_P(Thieves, WorkStealingDequeStress, ::testing::Values(1, 2, 4, 8),
                         [](const auto& info) { return std::to_string(info.param) + "_thieves"; });

/// Rounds in which the owner pushes one or two values and pops them right back (and
/// then pops the empty deque a few times) while the thieves steal without pause: the
/// deque holds at most two elements, so nearly every pop races a steal for the last one.
/// Each value must go to exactly one of them. Regression for the last-element race
/// (pop's CAS on top against steal's, and the fence that orders pop's bottom and top).
void last_element_rounds(int thieves, std::uint64_t rounds, std::uint64_t seed) {
    deque d{2};
    std::atomic<bool> finished{false};
    std::vector<std::atomic<std::uint8_t>> taken(2 * rounds + 1);
    std::vector<tally> tallies(static_cast<std::size_t>(thieves) + 1);
    std::atomic<std::uint64_t> bad{0};

    auto record = [&](value_type v, tally& t) {
        if (v < 1 || static_cast<std::size_t>(v) >= taken.size()) {
            bad.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        taken[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed);
        ++t.taken;
        t.sum += static_cast<std::uint64_t>(v);
    };

    auto thief = [&](tally& t) {
        std::uint32_t misses = 0;
        while (!finished.load(std::memory_order_acquire)) {
            auto res = d.steal();
            if (res.status == steal_status::success) {
                record(res.value, t);
            } else {
                ++t.failed;
                // Yield rarely: the race needs thieves that are running, but on an
                // oversubscribed machine the owner must get a core too.
                if (++misses % 4096 == 0) std::this_thread::yield();
            }
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(thieves));
    for (int i = 0; i < thieves; ++i)
        threads.emplace_back(thief, std::ref(tallies[static_cast<std::size_t>(i) + 1]));

    std::mt19937_64 rng{seed};
    value_type next = 1;
    std::uint64_t pushed = 0;
    std::uint64_t invented_on_empty = 0;
    tally& own = tallies[0];
    for (std::uint64_t r = 0; r < rounds; ++r) {
        const std::uint64_t bits = rng();
        const int count = 1 + static_cast<int>(bits & 1);
        for (int i = 0; i < count; ++i, ++next, ++pushed) d.push(next);
        // Now and then a few spins, so the pops meet the steals at every phase.
        for (std::uint64_t spin = (bits >> 1) % 2 == 0 ? (bits >> 4) % 128 : 0; spin > 0; --spin)
            weft::detail::cpu_relax();
        for (int i = 0; i < count; ++i) {
            value_type v = 0;
            if (d.pop(v)) record(v, own);
        }
        // Pop on the now empty deque, while the thieves keep stealing.
        for (int i = 0; i < 2; ++i) {
            value_type v = 0;
            if (d.pop(v)) {
                ++invented_on_empty;
                record(v, own);
            }
        }
    }
    finished.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();

    std::uint64_t taken_total = 0, sum = 0;
    for (const auto& t : tallies) {
        taken_total += t.taken;
        sum += t.sum;
    }
    EXPECT_EQ(bad.load(), 0U) << "a pop or steal returned a value never pushed";
    EXPECT_EQ(invented_on_empty, 0U) << "pop() on an empty deque returned a value";
    EXPECT_EQ(d.size_estimate(), 0);
    EXPECT_EQ(taken_total, pushed);
    EXPECT_EQ(sum, pushed * (pushed + 1) / 2);
    std::uint64_t wrong = 0;
    for (std::size_t v = 1; v <= pushed; ++v) {
        const unsigned c = taken[v].load(std::memory_order_relaxed);
        if (c != 1 && wrong++ < 10) ADD_FAILURE() << "value " << v << " taken " << c << " times";
    }
    EXPECT_EQ(wrong, 0U) << "values not taken exactly once";
    std::printf("[   INFO   ] %d thieves, %llu rounds: the thieves won %llu of %llu values\n",
                thieves, static_cast<unsigned long long>(rounds),
                static_cast<unsigned long long>(pushed - own.taken),
                static_cast<unsigned long long>(pushed));
}

TEST(WorkStealingDequeStress, LastElementRaceOneThief) {
    stress::watchdog dog{stress::k_watchdog_limit};
    last_element_rounds(1, stress::scaled(2'000'000, 10'000), stress::seed());
}

TEST(WorkStealingDequeStress, LastElementRaceThreeThieves) {
    stress::watchdog dog{stress::k_watchdog_limit};
    last_element_rounds(3, stress::scaled(1'000'000, 5'000), stress::seed());
}

// Regression: pop() on an empty deque computes bottom - 1, which is -1 on a fresh deque;
// with unsigned indices that wraps and pop() "finds" an element. Here the owner pops an
// empty deque millions of times, on fresh deques (bottom 0) and used ones (bottom > 0),
// while thieves steal: nobody may ever get a value, and the deque must work afterwards.
TEST(WorkStealingDequeStress, PopOnEmptyNeverInventsAValue) {
    stress::watchdog dog{stress::k_watchdog_limit};
    const std::uint64_t rounds = stress::scaled(5'000, 20);
    constexpr int k_thieves = 2;
    constexpr int k_pops_per_round = 1'000;
    std::atomic<deque*> current{nullptr};
    std::atomic<std::uint64_t> generation{0};
    std::atomic<int> inside{0};
    std::atomic<bool> finished{false};
    std::atomic<std::uint64_t> invented{0};

    auto thief = [&] {
        std::uint32_t misses = 0;
        while (!finished.load(std::memory_order_acquire)) {
            const std::uint64_t g = generation.load(std::memory_order_acquire);
            if (g % 2 == 0) {
                relax(misses);
                continue;
            }
            inside.fetch_add(1);  // seq_cst: the Dekker pair with the owner's retirement
            if (generation.load() == g) {
                deque* d = current.load(std::memory_order_acquire);
                for (int i = 0; i < 64; ++i)
                    if (d->steal().status == steal_status::success)
                        invented.fetch_add(1, std::memory_order_relaxed);
            }
            inside.fetch_sub(1, std::memory_order_acq_rel);
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(k_thieves);
    for (int i = 0; i < k_thieves; ++i) threads.emplace_back(thief);

    std::uint64_t owner_invented = 0, lost = 0;
    for (std::uint64_t r = 0; r < rounds; ++r) {
        auto d = std::make_unique<deque>(2);
        // Odd rounds: push and pop a few values first, so bottom is well above zero.
        if (r % 2 == 1) {
            for (value_type v = 1; v <= 5; ++v) d->push(v);
            value_type v = 0;
            for (int i = 0; i < 5; ++i)
                if (!d->pop(v)) ++lost;
        }
        current.store(d.get(), std::memory_order_release);
        generation.fetch_add(1, std::memory_order_acq_rel);
        value_type v = 0;
        for (int i = 0; i < k_pops_per_round; ++i)
            if (d->pop(v)) ++owner_invented;
        generation.fetch_add(1);  // seq_cst: the Dekker pair with the thieves' `inside`
        std::uint32_t misses = 0;
        while (inside.load() != 0) relax(misses);  // seq_cst: as above
        EXPECT_EQ(d->size_estimate(), 0);
        // Still a working deque: one value in, the same value out, then empty again.
        d->push(42);
        if (!d->pop(v) || v != 42) ++lost;
        if (d->steal().status != steal_status::empty) ++owner_invented;
    }
    finished.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    EXPECT_EQ(owner_invented, 0U) << "pop() returned a value from an empty deque";
    EXPECT_EQ(invented.load(), 0U) << "steal() returned a value from an empty deque";
    EXPECT_EQ(lost, 0U) << "pop() lost a value with no thief active";
}

}  // namespace
