// Single-threaded semantics of the Chase–Lev deque: LIFO pop, FIFO steal, growth.
#include <weft/detail/work_stealing_deque.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using deque = weft::detail::work_stealing_deque<std::intptr_t>;
using weft::detail::steal_status;

TEST(WorkStealingDeque, PopOnEmptyReturnsFalse) {
    deque d{2};
    std::intptr_t v = -1;
    EXPECT_FALSE(d.pop(v));
    EXPECT_EQ(v, -1);
    EXPECT_EQ(d.size_estimate(), 0);
}

// Regression: `bottom - 1` on an empty deque must not underflow (indices are signed).
TEST(WorkStealingDeque, RepeatedPopOnEmptyKeepsDequeUsable) {
    deque d{2};
    std::intptr_t v = 0;
    for (int i = 0; i < 1000; ++i) ASSERT_FALSE(d.pop(v));
    d.push(7);
    ASSERT_TRUE(d.pop(v));
    EXPECT_EQ(v, 7);
    EXPECT_FALSE(d.pop(v));
}

TEST(WorkStealingDeque, OwnerPopsLifo) {
    deque d{4};
    for (std::intptr_t i = 1; i <= 3; ++i) d.push(i);
    std::intptr_t v = 0;
    for (std::intptr_t want = 3; want >= 1; --want) {
        ASSERT_TRUE(d.pop(v));
        EXPECT_EQ(v, want);
    }
    EXPECT_FALSE(d.pop(v));
}

TEST(WorkStealingDeque, ThiefStealsFifo) {
    deque d{4};
    for (std::intptr_t i = 1; i <= 3; ++i) d.push(i);
    for (std::intptr_t want = 1; want <= 3; ++want) {
        auto r = d.steal();
        ASSERT_EQ(r.status, steal_status::success);
        EXPECT_EQ(r.value, want);
    }
    EXPECT_EQ(d.steal().status, steal_status::empty);
}

TEST(WorkStealingDeque, StealAndPopMeetOnLastElement) {
    deque d{2};
    d.push(1);
    d.push(2);
    auto r = d.steal();
    ASSERT_EQ(r.status, steal_status::success);
    EXPECT_EQ(r.value, 1);
    std::intptr_t v = 0;
    ASSERT_TRUE(d.pop(v));
    EXPECT_EQ(v, 2);
    EXPECT_FALSE(d.pop(v));
    EXPECT_EQ(d.steal().status, steal_status::empty);
}

TEST(WorkStealingDeque, GrowsFromCapacityTwoAndKeepsOrder) {
    deque d{2};
    EXPECT_EQ(d.capacity(), 2);
    constexpr std::intptr_t n = 1000;
    for (std::intptr_t i = 0; i < n; ++i) d.push(i);
    EXPECT_GE(d.capacity(), n);
    EXPECT_EQ(d.size_estimate(), n);
    // Half from the top (oldest first), half from the bottom (newest first).
    for (std::intptr_t i = 0; i < n / 2; ++i) {
        auto r = d.steal();
        ASSERT_EQ(r.status, steal_status::success);
        ASSERT_EQ(r.value, i);
    }
    std::intptr_t v = 0;
    for (std::intptr_t i = n - 1; i >= n / 2; --i) {
        ASSERT_TRUE(d.pop(v));
        ASSERT_EQ(v, i);
    }
    EXPECT_FALSE(d.pop(v));
}

// Regression: after growth, push must write into the new ring (a push into the
// pre-growth ring loses the element).
TEST(WorkStealingDeque, GrowthWithWrappedIndicesKeepsEveryElement) {
    deque d{4};
    std::intptr_t v = 0;
    // Move top and bottom well past the capacity so the ring wraps before growing.
    for (int round = 0; round < 10; ++round) {
        d.push(round);
        ASSERT_EQ(d.steal().value, round);
    }
    for (std::intptr_t i = 0; i < 9; ++i) d.push(100 + i);  // grows 4 -> 8 -> 16
    EXPECT_EQ(d.capacity(), 16);
    for (std::intptr_t i = 0; i < 9; ++i) ASSERT_EQ(d.steal().value, 100 + i);
    EXPECT_FALSE(d.pop(v));
}

TEST(WorkStealingDeque, InitialCapacityRoundsUpToPowerOfTwo) {
    EXPECT_EQ(deque{0}.capacity(), 2);
    EXPECT_EQ(deque{3}.capacity(), 4);
    EXPECT_EQ(deque{256}.capacity(), 256);
    EXPECT_EQ(deque{257}.capacity(), 512);
}

}  // namespace
