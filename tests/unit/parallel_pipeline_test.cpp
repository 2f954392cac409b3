// weft unit tests — parallel_pipeline: order of serial_in_order stages, the in-flight
// bound, serial_out_of_order one at a time, errors, bad arguments, on 1, 2 and 4 workers.
#include <weft/parallel_pipeline.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "counting_new.hpp"

namespace {

class PipelineTest : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

/// A source of 0, 1, ..., n-1.
auto counter(int& next, int n) {
    return weft::stage(weft::stage_mode::serial_in_order, [&next, n]() -> std::optional<int> {
        if (next == n) return std::nullopt;
        return next++;
    });
}

TEST_P(PipelineTest, InOrderStagesSeeTheSourceOrderAndTheBoundHolds) {
    for (const std::size_t bound : {1U, 2U, 3U, 16U}) {
        int next = 0;
        std::vector<long> out;
        std::atomic<int> in_flight{0};
        std::atomic<int> most{0};
        weft::parallel_pipeline(
            m_ex, bound,
            weft::stage(weft::stage_mode::serial_in_order,
                        [&]() -> std::optional<int> {
                            if (next == 20'000) return std::nullopt;
                            const int now = in_flight.fetch_add(1) + 1;
                            int seen = most.load();
                            while (now > seen && !most.compare_exchange_weak(seen, now)) {
                            }
                            return next++;
                        }),
            weft::stage(weft::stage_mode::parallel, [](int x) { return static_cast<long>(x) * 3; }),
            weft::stage(weft::stage_mode::serial_in_order, [](long y) { return std::to_string(y); }),
            weft::stage(weft::stage_mode::serial_in_order, [&](const std::string& s) {
                out.push_back(std::stol(s));
                in_flight.fetch_sub(1);
            }));
        ASSERT_EQ(out.size(), 20'000U);
        for (int i = 0; i < 20'000; ++i) ASSERT_EQ(out[static_cast<std::size_t>(i)], 3L * i);
        EXPECT_LE(most.load(), static_cast<int>(bound));
        EXPECT_GE(most.load(), 1);
    }
}

TEST_P(PipelineTest, SerialOutOfOrderRunsOneItemAtATime) {
    int next = 0;
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    long sum = 0;  // plain: the stage is serial
    weft::parallel_pipeline(m_ex, 8, counter(next, 5'000),
                            weft::stage(weft::stage_mode::parallel, [](int x) { return x; }),
                            weft::stage(weft::stage_mode::serial_out_of_order, [&](int x) {
                                if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
                                sum += x;
                                inside.fetch_sub(1);
                            }));
    EXPECT_EQ(overlaps.load(), 0);
    EXPECT_EQ(sum, 5'000L * 4'999 / 2);
}

TEST_P(PipelineTest, TheFirstExceptionIsRethrownAndTheSourceStops) {
    int next = 0;
    std::atomic<int> reached_sink{0};
    EXPECT_THROW(weft::parallel_pipeline(m_ex, 4, counter(next, 1'000'000),
                                         weft::stage(weft::stage_mode::parallel,
                                                     [](int x) {
                                                         if (x == 500) throw std::runtime_error("stage");
                                                         return x;
                                                     }),
                                         weft::stage(weft::stage_mode::serial_in_order,
                                                     [&](int) { reached_sink.fetch_add(1); })),
                 std::runtime_error);
    EXPECT_LT(next, 1'000'000);  // the source stopped
    EXPECT_LT(reached_sink.load(), next);
    int again = 0;
    EXPECT_THROW(weft::parallel_pipeline(m_ex, 2,
                                         weft::stage(weft::stage_mode::serial_in_order,
                                                     [&]() -> std::optional<int> {
                                                         if (again == 10) throw std::logic_error("source");
                                                         return again++;
                                                     }),
                                         weft::stage(weft::stage_mode::parallel, [](int) {})),
                 std::logic_error);
}

TEST_P(PipelineTest, BadBoundAndEmptySource) {
    int next = 0;
    EXPECT_THROW(weft::parallel_pipeline(m_ex, 0, counter(next, 3), weft::stage(weft::stage_mode::parallel, [](int) {})),
                 std::invalid_argument);
    int calls = 0;
    weft::parallel_pipeline(m_ex, 4, counter(next, 0), weft::stage(weft::stage_mode::parallel, [&](int) { ++calls; }));
    EXPECT_EQ(calls, 0);
}

TEST_P(PipelineTest, NestedInsideParallelFor) {
    std::atomic<long> total{0};
    weft::parallel_for(m_ex, 0, 8, [&](int) {
        int next = 0;
        long local = 0;
        weft::parallel_pipeline(m_ex, 3, counter(next, 1'000),
                                weft::stage(weft::stage_mode::parallel, [](int x) { return x + 1; }),
                                weft::stage(weft::stage_mode::serial_in_order, [&](int x) { local += x; }));
        total.fetch_add(local);
    });
    EXPECT_EQ(total.load(), 8L * 500'500);
}

TEST_P(PipelineTest, ABoundAboveTheCapIsCappedAndKeepsOrder) {
    // max_in_flight is an upper bound: weft keeps at most k_pipeline_max_in_flight, which
    // sizes the serial stages' rings, so "as many as you like" is not an allocation.
    int next = 0;
    std::atomic<int> in_flight{0};
    std::atomic<int> most{0};
    std::vector<int> out;
    weft::parallel_pipeline(
        m_ex, std::numeric_limits<std::size_t>::max(),
        weft::stage(weft::stage_mode::serial_in_order,
                    [&]() -> std::optional<int> {
                        if (next == 3 * static_cast<int>(weft::detail::k_pipeline_max_in_flight)) return std::nullopt;
                        const int now = in_flight.fetch_add(1) + 1;
                        int seen = most.load();
                        while (now > seen && !most.compare_exchange_weak(seen, now)) {
                        }
                        return next++;
                    }),
        weft::stage(weft::stage_mode::parallel, [](int x) { return x; }),
        weft::stage(weft::stage_mode::serial_out_of_order, [](int x) { return x; }),
        weft::stage(weft::stage_mode::serial_in_order, [&](int x) {
            out.push_back(x);
            in_flight.fetch_sub(1);
        }));
    ASSERT_EQ(out.size(), 3 * weft::detail::k_pipeline_max_in_flight);
    for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], static_cast<int>(i));
    EXPECT_LE(most.load(), static_cast<int>(weft::detail::k_pipeline_max_in_flight));
}

#ifdef WEFT_TEST_COUNTS_ALLOCATIONS
/// The fewest allocations of three pipelines of `n` items (the fewest: the executor's
/// own pools may grow during one of them).
std::uint64_t pipeline_allocations(weft::executor& ex, int n) {
    std::uint64_t least = std::numeric_limits<std::uint64_t>::max();
    for (int round = 0; round < 3; ++round) {
        int next = 0;
        long sum = 0;
        g_allocations.store(0);
        g_counting.store(true);
        weft::parallel_pipeline(ex, 8, counter(next, n), weft::stage(weft::stage_mode::parallel, [](int x) { return x; }),
                                weft::stage(weft::stage_mode::serial_in_order, [&](int x) { sum += x; }));
        g_counting.store(false);
        least = std::min(least, g_allocations.load());
        EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
    }
    return least;
}
#endif

TEST_P(PipelineTest, AllocationsDoNotGrowWithTheItems) {
#ifndef WEFT_TEST_COUNTS_ALLOCATIONS
    GTEST_SKIP() << "sanitizers replace operator new";
#else
    // Items live in a pool that grows to the in-flight bound (8) and is reused: what a
    // call allocates (that pool, the stages' rings, the executor's own pools growing) is
    // bounded, far below one allocation per item.
    const std::uint64_t fewer = pipeline_allocations(m_ex, 10'000);
    const std::uint64_t more = pipeline_allocations(m_ex, 100'000);
    EXPECT_LT(fewer, 64U) << "10^4 items";
    EXPECT_LT(more, 64U) << "10^5 items";
#endif
}

INSTANTIATE_TEST_SUITE_P(Workers, PipelineTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
