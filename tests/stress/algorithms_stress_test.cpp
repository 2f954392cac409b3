// Algorithms under contention: several outside threads and tasks call parallel_for,
// parallel_reduce, parallel_sort, parallel_inclusive_scan and parallel_pipeline at once
// on one executor, with random sizes and options, nested one level inside each other,
// some with a body that throws. Every index runs exactly once (counted), every result
// equals the serial algorithm's, a throwing call rethrows its own exception once, and
// everything finishes on 1, 2 and 4 workers.
//
// Sized by WEFT_STRESS_SCALE, seeded (WEFT_STRESS_SEED), watched by a watchdog.
#include "stress_scale.hpp"

#include <weft/algorithms.hpp>
#include <weft/parallel_pipeline.hpp>
#include <weft/parallel_scan.hpp>
#include <weft/parallel_sort.hpp>
#include <weft/task_group.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stress = weft::stress;

/// A body's exception, tagged with the call that threw it.
struct tagged_error : std::runtime_error {
    explicit tagged_error(std::uint64_t t) : std::runtime_error{"tagged"}, tag{t} {}
    std::uint64_t tag;
};

/// One random call of an algorithm, checked against the serial result. `depth` 0 may
/// nest one more call inside its body. Returns the number of checks that failed (also
/// reported through gtest).
class caller {
public:
    caller(weft::executor& ex, std::uint64_t seed, std::atomic<std::uint64_t>& next_tag)
        : m_ex{ex}, m_rng{seed}, m_next_tag{next_tag} {}

    void one_call(int depth) {
        switch (m_rng() % 5) {
            case 0: call_for(depth); break;
            case 1: call_reduce(depth); break;
            case 2: call_sort(); break;
            case 3: call_scan(); break;
            default: call_pipeline(); break;
        }
    }

private:
    std::size_t size() {
        // Mostly short (the serial budget and the first splits), sometimes long.
        switch (m_rng() % 4) {
            case 0: return m_rng() % 8;
            case 1: return m_rng() % 2'000;
            case 2: return m_rng() % 20'000;
            default: return m_rng() % 100'000;
        }
    }

    void call_for(int depth) {
        const std::size_t n = size();
        std::vector<std::atomic<std::uint8_t>> hits(n);
        const bool nest = depth == 0 && n > 0 && m_rng() % 4 == 0;
        const std::size_t nest_at = nest ? m_rng() % n : n;
        const std::uint64_t child_seed = m_rng();
        std::atomic<std::uint64_t>& tags = m_next_tag;
        const bool throws = n > 0 && m_rng() % 8 == 0;
        const std::size_t throw_at = throws ? m_rng() % n : n;
        const std::uint64_t tag = tags.fetch_add(1);
        weft::executor& ex = m_ex;
        const auto body = [&](std::size_t i) {
            hits[i].fetch_add(1, std::memory_order_relaxed);  // relaxed: a count, read after the call returns (its join orders it)
            if (i == nest_at) {
                caller inner{ex, child_seed, tags};
                inner.one_call(depth + 1);
            }
            if (i == throw_at) throw tagged_error{tag};
        };
        try {
            switch (m_rng() % 3) {
                case 0: weft::parallel_for(m_ex, std::size_t{0}, n, body); break;
                case 1: weft::parallel_for(m_ex, std::size_t{0}, n, body, weft::grain{1 + m_rng() % 64}); break;
                default: weft::parallel_for(m_ex, std::size_t{0}, n, body, weft::static_partition); break;
            }
            ASSERT_FALSE(throws) << "a throwing loop of " << n << " returned normally";
        } catch (const tagged_error& e) {
            ASSERT_TRUE(throws) << "a loop that does not throw threw";
            ASSERT_EQ(e.tag, tag) << "another call's exception";
            ASSERT_EQ(hits[throw_at].load(), 1);
            for (std::size_t i = 0; i < n; ++i) ASSERT_LE(hits[i].load(), 1) << "index " << i << " of " << n;
            return;
        }
        for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << n;
    }

    void call_reduce(int depth) {
        const std::size_t n = size();
        const bool nest = depth == 0 && n > 0 && m_rng() % 4 == 0;
        const std::size_t nest_at = nest ? m_rng() % n : n;
        const std::uint64_t child_seed = m_rng();
        std::atomic<std::uint64_t>& tags = m_next_tag;
        weft::executor& ex = m_ex;
        // A polynomial hash of the indices in order (mod 2^64): associative, not
        // commutative, so a piece combined out of order changes the result.
        struct hash {
            std::uint64_t h = 0;
            std::uint64_t len = 0;
        };
        constexpr std::uint64_t k_base = 1'000'003;
        const auto power = [](std::uint64_t e) {
            std::uint64_t r = 1;
            std::uint64_t b = k_base;
            for (; e != 0; e >>= 1, b *= b)
                if ((e & 1) != 0) r *= b;
            return r;
        };
        const auto fold = [&](hash a, std::size_t i) {
            if (i == nest_at) {
                caller inner{ex, child_seed, tags};
                inner.one_call(depth + 1);
            }
            return hash{a.h * k_base + (i + 1), a.len + 1};
        };
        const auto combine = [&](hash a, hash b) { return hash{a.h * power(b.len) + b.h, a.len + b.len}; };
        hash expected;
        for (std::size_t i = 0; i < n; ++i) expected = hash{expected.h * k_base + (i + 1), expected.len + 1};
        const hash got = m_rng() % 2 == 0
                             ? weft::parallel_reduce(m_ex, std::size_t{0}, n, hash{}, fold, combine)
                             : weft::parallel_reduce(m_ex, std::size_t{0}, n, hash{}, fold, combine,
                                                     weft::grain{1 + m_rng() % 64});
        ASSERT_EQ(got.len, n);
        ASSERT_EQ(got.h, expected.h) << "pieces combined out of index order, n " << n;
    }

    void call_sort() {
        const std::size_t n = size();
        std::vector<int> v(n);
        const int range = 1 + static_cast<int>(m_rng() % 1'000'000);
        for (auto& x : v) x = static_cast<int>(m_rng() % static_cast<unsigned>(range));
        std::vector<int> expected = v;
        std::sort(expected.begin(), expected.end());
        weft::parallel_sort(m_ex, v.begin(), v.end());
        ASSERT_EQ(v, expected) << n;
    }

    void call_scan() {
        const std::size_t n = size();
        std::vector<std::int64_t> v(n);
        for (auto& x : v) x = static_cast<std::int64_t>(m_rng() % 1000) - 500;
        std::vector<std::int64_t> expected(n);
        std::inclusive_scan(v.begin(), v.end(), expected.begin());
        weft::parallel_inclusive_scan(m_ex, v.begin(), v.end(), v.begin());
        ASSERT_EQ(v, expected) << n;
    }

    void call_pipeline() {
        const std::size_t n = size();
        const std::size_t bound = 1 + m_rng() % 16;
        std::size_t next = 0;
        std::vector<std::size_t> out;
        std::atomic<int> in_flight{0};
        std::atomic<int> most{0};
        weft::parallel_pipeline(
            m_ex, bound,
            weft::stage(weft::stage_mode::serial_in_order,
                        [&]() -> std::optional<std::size_t> {
                            if (next == n) return std::nullopt;
                            const int now = in_flight.fetch_add(1) + 1;
                            int seen = most.load();
                            while (now > seen && !most.compare_exchange_weak(seen, now)) {
                            }
                            return next++;
                        }),
            weft::stage(weft::stage_mode::parallel, [](std::size_t x) { return x * 3; }),
            weft::stage(weft::stage_mode::serial_out_of_order, [](std::size_t x) { return x + 1; }),
            weft::stage(weft::stage_mode::serial_in_order, [&](std::size_t x) {
                out.push_back(x);
                in_flight.fetch_sub(1);
            }));
        ASSERT_EQ(out.size(), n);
        for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], 3 * i + 1) << "item " << i << " of " << n;
        ASSERT_LE(most.load(), static_cast<int>(bound));
    }

    weft::executor& m_ex;
    std::mt19937_64 m_rng;
    std::atomic<std::uint64_t>& m_next_tag;
};

class AlgorithmsStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(AlgorithmsStress, ManyCallersAtOnceExactlyOnce) {
    stress::watchdog dog{std::chrono::seconds{600}};
    const std::uint64_t seed = stress::seed();
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t calls = stress::scaled(300, 20);
    std::atomic<std::uint64_t> next_tag{0};
    std::atomic<std::uint64_t> done{0};
    // Three outside threads and, on the executor, tasks that call too.
    std::vector<std::thread> threads;
    for (std::uint64_t t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            caller c{ex, seed + t, next_tag};
            for (std::uint64_t k = 0; k < calls; ++k) {
                c.one_call(0);
                done.fetch_add(1);
            }
        });
    }
    weft::task_group g{ex};
    for (std::uint64_t t = 0; t < 2; ++t) {
        g.run([&, t] {
            caller c{ex, seed + 100 + t, next_tag};
            for (std::uint64_t k = 0; k < calls; ++k) {
                c.one_call(0);
                done.fetch_add(1);
            }
        });
    }
    g.wait();
    for (auto& th : threads) th.join();
    EXPECT_EQ(done.load(), 5 * calls);
}

INSTANTIATE_TEST_SUITE_P(Workers, AlgorithmsStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
