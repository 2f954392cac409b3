// weft unit tests — parallel_for, parallel_reduce, parallel_transform_reduce,
// parallel_invoke: results equal the serial loop, every index exactly once, errors,
// nesting, calls from outside and from inside the executor, on 1, 2 and 4 workers.
#include <weft/algorithms.hpp>
#include <weft/task_graph.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

class AlgorithmsTest : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

constexpr std::size_t k_grain = 64;

// Sizes the issue names: 0, 1, 2, grain-1, grain, grain+1, 10^6.
const std::vector<std::size_t> k_sizes{0, 1, 2, k_grain - 1, k_grain, k_grain + 1, 1'000'000};

void expect_each_once(const std::vector<std::atomic<int>>& hits, int times, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), times) << "index " << i << " of " << n;
}

TEST_P(AlgorithmsTest, ParallelForRunsEveryIndexExactlyOnce) {
    for (const std::size_t n : k_sizes) {
        std::vector<std::atomic<int>> hits(n);
        const auto hit = [&](std::size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); };
        weft::parallel_for(m_ex, std::size_t{0}, n, hit);
        expect_each_once(hits, 1, n);
        weft::parallel_for(m_ex, std::size_t{0}, n, hit, weft::grain{k_grain});
        expect_each_once(hits, 2, n);
        weft::parallel_for(m_ex, std::size_t{0}, n, hit, weft::static_partition);
        expect_each_once(hits, 3, n);
        weft::parallel_for(m_ex, std::size_t{0}, n, hit, weft::grain{k_grain}, weft::static_partition);
        expect_each_once(hits, 4, n);
    }
}

TEST_P(AlgorithmsTest, ParallelForOverSignedIndicesAndIterators) {
    std::vector<std::atomic<int>> hits(2000);
    weft::parallel_for(m_ex, -1000, 1000, [&](int i) { hits[static_cast<std::size_t>(i + 1000)].fetch_add(1); });
    expect_each_once(hits, 1, hits.size());
    std::vector<int> v(100'000, 1);
    weft::parallel_for(m_ex, v.begin(), v.end(), [](int& x) { x *= 3; });
    EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0L), 300'000L);
}

TEST_P(AlgorithmsTest, ParallelReduceEqualsTheSerialFold) {
    for (const std::size_t n : k_sizes) {
        const long expected = static_cast<long>(n) * (static_cast<long>(n) - 1) / 2;
        EXPECT_EQ(weft::parallel_reduce(m_ex, 0L, static_cast<long>(n), 0L, [](long a, long i) { return a + i; },
                                        std::plus<>{}),
                  expected)
            << n;
        EXPECT_EQ(weft::parallel_reduce(m_ex, 0L, static_cast<long>(n), 0L, [](long a, long i) { return a + i; },
                                        std::plus<>{}, weft::static_partition, weft::grain{k_grain}),
                  expected)
            << n;
    }
}

TEST_P(AlgorithmsTest, ParallelReduceKeepsIndexOrderForANonCommutativeCombine) {
    // Concatenation is associative, not commutative: any reordering of pieces shows.
    for (const int n : {0, 1, 63, 64, 65, 20'000}) {
        std::string serial;
        for (int i = 0; i < n; ++i) serial += static_cast<char>('a' + i % 26);
        const std::string got = weft::parallel_reduce(
            m_ex, 0, n, std::string{},
            [](std::string acc, int i) {
                acc += static_cast<char>('a' + i % 26);
                return acc;
            },
            [](std::string a, const std::string& b) { return a + b; }, weft::grain{16});
        EXPECT_EQ(got, serial) << n;
    }
}

TEST_P(AlgorithmsTest, ParallelTransformReduceHasStdOrder) {
    for (const std::size_t n : k_sizes) {
        std::vector<double> v(n);
        std::iota(v.begin(), v.end(), 0.0);
        const double expected = std::transform_reduce(v.begin(), v.end(), 0.5, std::plus<>{}, [](double x) { return 2 * x; });
        EXPECT_EQ(weft::parallel_transform_reduce(m_ex, v.begin(), v.end(), 0.5, std::plus<>{},
                                                  [](double x) { return 2 * x; }),
                  expected)
            << n;
    }
}

TEST_P(AlgorithmsTest, NestedLoopsComposeInsideLoopsAndGraphNodes) {
    std::atomic<long> count{0};
    weft::parallel_for(m_ex, 0, 200, [&](int) {
        weft::parallel_for(m_ex, 0, 500, [&](int) { count.fetch_add(1, std::memory_order_relaxed); });
    });
    EXPECT_EQ(count.load(), 100'000);

    weft::task_graph g;
    long a = 0;
    long b = 0;
    g.emplace([&] { a = weft::parallel_reduce(m_ex, 0L, 100'000L, 0L, [](long s, long i) { return s + i; }, std::plus<>{}); });
    g.emplace([&] {
        std::vector<int> v(50'000, 2);
        weft::parallel_for(m_ex, v.begin(), v.end(), [](int& x) { x += 1; });
        b = std::accumulate(v.begin(), v.end(), 0L);
    });
    g.run(m_ex).get();
    EXPECT_EQ(a, 4'999'950'000L);
    EXPECT_EQ(b, 150'000L);
}

TEST_P(AlgorithmsTest, TheFirstExceptionIsRethrownOnceAndTheLoopStops) {
    std::atomic<long> ran{0};
    try {
        weft::parallel_for(m_ex, 0, 1'000'000, [&](int i) {
            ran.fetch_add(1, std::memory_order_relaxed);
            if (i % 1000 == 999) throw std::runtime_error("body " + std::to_string(i));
        }, weft::grain{100});
        FAIL() << "nothing thrown";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string{e.what()}.rfind("body ", 0), 0U);
    }
    EXPECT_LT(ran.load(), 1'000'000);  // chunks after the failure were not handed out
    EXPECT_THROW(weft::parallel_reduce(m_ex, 0, 1000, 0, [](int, int i) -> int {
                     if (i == 500) throw std::logic_error("fold");
                     return i;
                 }, std::plus<>{}),
                 std::logic_error);
}

TEST_P(AlgorithmsTest, BadArgumentsAreClearErrors) {
    EXPECT_THROW(weft::parallel_for(m_ex, 5, 3, [](int) {}), std::invalid_argument);
    EXPECT_THROW(weft::parallel_for(m_ex, 0, 3, [](int) {}, weft::grain{0}), std::invalid_argument);
    std::vector<int> v(3);
    EXPECT_THROW(weft::parallel_for(m_ex, v.end(), v.begin(), [](int) {}), std::invalid_argument);
    EXPECT_THROW((void)weft::parallel_reduce(m_ex, 2, 1, 0, [](int a, int) { return a; }, std::plus<>{}),
                 std::invalid_argument);
    int calls = 0;
    weft::parallel_for(m_ex, 3, 3, [&](int) { ++calls; });  // empty: a no-op
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(weft::parallel_reduce(m_ex, 3, 3, 42, [](int a, int) { return a; }, std::plus<>{}), 42);
}

TEST_P(AlgorithmsTest, ParallelInvokeRunsEachOnceAndRethrows) {
    std::atomic<int> a{0};
    std::atomic<int> b{0};
    std::atomic<int> c{0};
    weft::parallel_invoke(m_ex, [&] { a.fetch_add(1); }, [&] { b.fetch_add(2); }, [&] { c.fetch_add(3); });
    EXPECT_EQ(a.load() + b.load() + c.load(), 6);
    weft::parallel_invoke(m_ex, [&] { a.fetch_add(1); });
    EXPECT_EQ(a.load(), 2);
    EXPECT_THROW(weft::parallel_invoke(m_ex, [] {}, [] { throw std::out_of_range("x"); }, [] {}), std::out_of_range);
}

TEST_P(AlgorithmsTest, CalledFromATaskOfTheExecutorItRunsThere) {
    std::atomic<long> sum{0};
    weft::task_group tg{m_ex};
    for (int k = 0; k < 4; ++k)
        tg.run([&] { sum.fetch_add(weft::parallel_reduce(m_ex, 0L, 10'000L, 0L, [](long s, long i) { return s + i; }, std::plus<>{})); });
    tg.wait();
    EXPECT_EQ(sum.load(), 4 * 49'995'000L);
}

TEST_P(AlgorithmsTest, AShortLoopFromOutsideNeverTouchesTheExecutor) {
    // A loop well within the serial budget runs on the caller alone: no task, no wake-up.
    // The budget counts work at its fastest pace, so a preempted caller does not hand it
    // off either. (Sanitizers slow the body tenfold or more: a shorter loop there, which
    // hands off only if an index costs over ~350 ns.)
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    const std::size_t n = 16;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
    const std::size_t n = 16;
#else
    const std::size_t n = 1000;
#endif
#else
    const std::size_t n = 1000;
#endif
    std::vector<float> in(n, 1.5F);
    std::vector<float> out(n);
    const auto executed = [this] {
        std::uint64_t total = 0;
        for (const auto& w : m_ex.stats()) total += w.executed;
        return total;
    };
    const std::uint64_t before = executed();
    for (int k = 0; k < 2000; ++k) {
        weft::parallel_for(m_ex, std::size_t{0}, n, [&](std::size_t i) { out[i] = in[i] * 2.0F + static_cast<float>(k); });
        ASSERT_EQ(out[n - 1], 3.0F + static_cast<float>(k));
    }
    EXPECT_EQ(executed(), before) << "tasks run by workers during 2000 short loops from outside";
}

INSTANTIATE_TEST_SUITE_P(Workers, AlgorithmsTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
