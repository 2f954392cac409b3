// weft unit tests — parallel_inclusive_scan and parallel_exclusive_scan: results equal
// std::inclusive_scan / std::exclusive_scan at the sizes around the block boundaries,
// with a non-commutative op, in place, from tasks and nested inside parallel_for, errors;
// on 1, 2 and 4 workers.
#include <weft/future.hpp>
#include <weft/parallel_scan.hpp>
#include <weft/task_group.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <latch>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

class ParallelScanTest : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

constexpr std::size_t k_block = weft::detail::k_scan_min_block;

// 0, 1, 2, and both sides of the first block boundaries (one block below 2 * k_block),
// then 10^6.
const std::vector<std::size_t> k_sizes{0,           1,           2,           k_block - 1,   k_block,
                                       k_block + 1, 2 * k_block - 1, 2 * k_block, 2 * k_block + 1,
                                       3 * k_block + 7, 1'000'000};

std::vector<long> make_input(std::size_t n) {
    std::vector<long> v(n);
    std::mt19937 rng{static_cast<unsigned>(n)};
    for (auto& x : v) x = static_cast<long>(rng() % 1000) - 500;
    return v;
}

// 2x2 integer matrices mod a prime under multiplication: associative, not commutative.
using mat = std::array<std::uint64_t, 4>;
constexpr std::uint64_t k_prime = 1'000'003;
struct mat_mul {
    mat operator()(const mat& a, const mat& b) const {
        return {(a[0] * b[0] + a[1] * b[2]) % k_prime, (a[0] * b[1] + a[1] * b[3]) % k_prime,
                (a[2] * b[0] + a[3] * b[2]) % k_prime, (a[2] * b[1] + a[3] * b[3]) % k_prime};
    }
};

std::vector<mat> make_matrices(std::size_t n) {
    std::vector<mat> v(n);
    std::mt19937 rng{static_cast<unsigned>(n + 1)};
    for (auto& m : v)
        for (auto& x : m) x = rng() % k_prime;
    return v;
}

TEST_P(ParallelScanTest, InclusiveAndExclusiveEqualStd) {
    for (const std::size_t n : k_sizes) {
        const std::vector<long> in = make_input(n);
        std::vector<long> expected(n);
        std::vector<long> out(n, -1);
        std::inclusive_scan(in.begin(), in.end(), expected.begin());
        EXPECT_EQ(weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin()), out.end());
        ASSERT_EQ(out, expected) << n;
        std::exclusive_scan(in.begin(), in.end(), expected.begin(), 17L);
        EXPECT_EQ(weft::parallel_exclusive_scan(m_ex, in.begin(), in.end(), out.begin(), 17L), out.end());
        ASSERT_EQ(out, expected) << n;
        // Products wrap (unsigned arithmetic, converted back modulo 2^64 as C++20 defines):
        // std::multiplies<long> overflows, which is undefined (UBSan reported it).
        const auto wrapping_multiply = [](long a, long b) {
            return static_cast<long>(static_cast<unsigned long>(a) * static_cast<unsigned long>(b));
        };
        std::inclusive_scan(in.begin(), in.end(), expected.begin(), wrapping_multiply);
        weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin(), wrapping_multiply);
        ASSERT_EQ(out, expected) << n;
        std::exclusive_scan(in.begin(), in.end(), expected.begin(), 3L, std::bit_xor<>{});
        weft::parallel_exclusive_scan(m_ex, in.begin(), in.end(), out.begin(), 3L, std::bit_xor<>{});
        ASSERT_EQ(out, expected) << n;
    }
}

TEST_P(ParallelScanTest, ANonCommutativeOpKeepsIndexOrder) {
    for (const std::size_t n : k_sizes) {
        const std::vector<mat> in = make_matrices(n);
        std::vector<mat> expected(n);
        std::vector<mat> out(n);
        std::inclusive_scan(in.begin(), in.end(), expected.begin(), mat_mul{});
        weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin(), mat_mul{});
        ASSERT_EQ(out, expected) << n;
        const mat id{1, 0, 0, 1};
        const mat init{2, 3, 5, 7};
        std::exclusive_scan(in.begin(), in.end(), expected.begin(), init, mat_mul{});
        weft::parallel_exclusive_scan(m_ex, in.begin(), in.end(), out.begin(), init, mat_mul{});
        ASSERT_EQ(out, expected) << n;
        std::exclusive_scan(in.begin(), in.end(), expected.begin(), id, mat_mul{});
        weft::parallel_exclusive_scan(m_ex, in.begin(), in.end(), out.begin(), id, mat_mul{});
        ASSERT_EQ(out, expected) << n;
    }
}

// The calling worker scans blocks from the left while the others reduce blocks from the
// right; where they meet depends on their speeds. Both extremes: the other workers all
// busy (the caller scans every block), and a caller slowed down (the right side reduces
// nearly all of them).
TEST_P(ParallelScanTest, TheTwoSidesMeetAnywhere) {
    const std::size_t n = 64 * k_block + 123;
    const std::vector<mat> in = make_matrices(n);
    std::vector<mat> expected(n);
    std::inclusive_scan(in.begin(), in.end(), expected.begin(), mat_mul{});
    {
        // Every other worker waits on a latch (not through this_worker::blocking, so no
        // spare replaces it) until the scan is done.
        const std::size_t others = GetParam() - 1;
        std::latch busy{static_cast<std::ptrdiff_t>(others)};
        std::latch release{1};
        std::vector<mat> out(n);
        weft::task_group g{m_ex};
        for (std::size_t w = 0; w < others; ++w) g.run([&] {
            busy.count_down();
            release.wait();
        });
        weft::async(m_ex, [&] {
            busy.wait();
            weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin(), mat_mul{});
            release.count_down();
        }).get();
        g.wait();
        ASSERT_EQ(out, expected);
    }
    {
        std::vector<mat> out(n);
        weft::async(m_ex, [&] {
            const std::thread::id caller = std::this_thread::get_id();  // the left side's thread
            weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin(), [caller](const mat& a, const mat& b) {
                if (std::this_thread::get_id() == caller) {
                    volatile int spin = 0;
                    while (spin < 200) spin = spin + 1;  // the left side runs slower
                }
                return mat_mul{}(a, b);
            });
        }).get();
        ASSERT_EQ(out, expected);
    }
}

TEST_P(ParallelScanTest, StringConcatenationKeepsIndexOrder) {
    // Quadratic output: small sizes only, one of them just past the serial threshold.
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, 2 * k_block + 1}) {
        std::vector<std::string> in(n);
        for (std::size_t i = 0; i < n; ++i) in[i] = std::string(1, static_cast<char>('a' + i % 26));
        std::vector<std::string> expected(n);
        std::vector<std::string> out(n);
        std::exclusive_scan(in.begin(), in.end(), expected.begin(), std::string{">"}, std::plus<>{});
        weft::parallel_exclusive_scan(m_ex, in.begin(), in.end(), out.begin(), std::string{">"});
        ASSERT_EQ(out, expected) << n;
        std::inclusive_scan(in.begin(), in.end(), expected.begin());
        weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin());
        ASSERT_EQ(out, expected) << n;
    }
}

TEST_P(ParallelScanTest, InPlace) {
    for (const std::size_t n : k_sizes) {
        const std::vector<mat> in = make_matrices(n);
        std::vector<mat> expected(n);
        std::vector<mat> v = in;
        std::inclusive_scan(in.begin(), in.end(), expected.begin(), mat_mul{});
        EXPECT_EQ(weft::parallel_inclusive_scan(m_ex, v.begin(), v.end(), v.begin(), mat_mul{}), v.end());
        ASSERT_EQ(v, expected) << n;
        v = in;
        const mat init{2, 3, 5, 7};
        std::exclusive_scan(in.begin(), in.end(), expected.begin(), init, mat_mul{});
        EXPECT_EQ(weft::parallel_exclusive_scan(m_ex, v.begin(), v.end(), v.begin(), init, mat_mul{}), v.end());
        ASSERT_EQ(v, expected) << n;
    }
}

TEST_P(ParallelScanTest, CalledFromTasksAndNestedInsideParallelFor) {
    const std::vector<long> in = make_input(100'000);
    std::vector<long> expected(in.size());
    std::inclusive_scan(in.begin(), in.end(), expected.begin());

    std::vector<std::vector<long>> outs(6, std::vector<long>(in.size()));
    weft::task_group tg{m_ex};
    for (auto& out : outs) tg.run([&] { weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin()); });
    tg.wait();
    for (const auto& out : outs) ASSERT_EQ(out, expected);

    std::vector<std::vector<long>> nested(6, in);
    weft::parallel_for(m_ex, std::size_t{0}, nested.size(), [&](std::size_t k) {
        weft::parallel_inclusive_scan(m_ex, nested[k].begin(), nested[k].end(), nested[k].begin());
    });
    for (const auto& out : nested) ASSERT_EQ(out, expected);
}

TEST_P(ParallelScanTest, ErrorsAreRethrownOnceAndBadRangesRejected) {
    const std::vector<long> in = make_input(1'000'000);
    std::vector<long> out(in.size());
    const auto op = [](long a, long b) {
        if (b == 499) throw std::runtime_error("op");
        return a + b;
    };
    EXPECT_THROW(weft::parallel_inclusive_scan(m_ex, in.begin(), in.end(), out.begin(), op), std::runtime_error);
    EXPECT_THROW(weft::parallel_exclusive_scan(m_ex, in.begin(), in.end(), out.begin(), 0L, op), std::runtime_error);
    EXPECT_THROW(weft::parallel_inclusive_scan(m_ex, in.end(), in.begin(), out.begin()), std::invalid_argument);
    EXPECT_THROW(weft::parallel_exclusive_scan(m_ex, in.end(), in.begin(), out.begin(), 0L), std::invalid_argument);
    EXPECT_EQ(weft::parallel_inclusive_scan(m_ex, in.begin(), in.begin(), out.begin()), out.begin());  // empty: no-op
    EXPECT_EQ(weft::parallel_exclusive_scan(m_ex, in.begin(), in.begin(), out.begin(), 0L), out.begin());
}

INSTANTIATE_TEST_SUITE_P(Workers, ParallelScanTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
