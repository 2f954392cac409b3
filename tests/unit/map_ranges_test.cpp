// map's result range and as_completed's range as C++20 ranges: input ranges and views,
// lazily advanced, movable (spec/python_parity.md B50, B53, B57; docs/api/thread_pool_executor.md).
#include "parity_support.hpp"

#include <weft/thread_pool_executor.hpp>
#include <weft/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <ranges>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::thread_pool_executor;

using int_range = weft::detail::map_range<int>;
using void_range = weft::detail::map_range<void>;
using futures_range = weft::as_completed_range<int>;

static_assert(std::input_iterator<int_range::iterator>);
static_assert(std::input_iterator<futures_range::iterator>);
static_assert(std::default_initializable<int_range::iterator>);
static_assert(std::same_as<std::iter_difference_t<int_range::iterator>, std::ptrdiff_t>);
static_assert(std::same_as<std::iter_reference_t<const int_range::iterator>, int&>);
static_assert(std::sentinel_for<std::default_sentinel_t, int_range::iterator>);
static_assert(requires(int_range::iterator it) { it++; });
static_assert(std::ranges::input_range<int_range>);
static_assert(std::ranges::input_range<void_range>);
static_assert(std::ranges::input_range<futures_range>);
static_assert(std::ranges::view<int_range>);
static_assert(std::ranges::view<void_range>);
static_assert(std::ranges::view<futures_range>);
static_assert(std::movable<int_range> && !std::copyable<int_range>);
static_assert(!std::ranges::forward_range<int_range>);

/// A gate a call waits on for at most 30 s (a failed test, never a hang).
class timed_gate {
public:
    /// True if opened in time.
    bool wait() {
        std::unique_lock lock{m_mutex};
        return m_cv.wait_for(lock, 30s, [this] { return m_open; });
    }
    void open() {
        {
            std::lock_guard lock{m_mutex};
            m_open = true;
        }
        m_cv.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_open = false;
};

/// A map over 0..n-1 on a one-thread pool whose items >= `first_held` wait for open().
struct held_map {
    thread_pool_executor pool{1};
    timed_gate gate;
    std::atomic<int> ran{0};
    std::atomic<bool> late{false};  // a held call gave up waiting for the gate
    std::vector<int> in;
    int held_from;

    held_map(int n, int first_held) : in(static_cast<std::size_t>(n)), held_from{first_held} {
        for (int i = 0; i < n; ++i) in[static_cast<std::size_t>(i)] = i;
    }
    held_map(const held_map&) = delete;
    held_map& operator=(const held_map&) = delete;
    ~held_map() { gate.open(); }

    void open() { gate.open(); }
    int_range map() {
        return pool.map([this](int x) {
            if (x >= held_from && !gate.wait()) late = true;
            ran.fetch_add(1);
            return x;
        }, in);
    }
};

TEST(MapRanges, a_default_constructed_iterator_is_at_the_end) {
    EXPECT_EQ(int_range::iterator{}, std::default_sentinel);
}

// ++ only asks for the next result: it returns while that call is still held.
TEST(MapRanges, increment_does_not_wait_the_next_element_is_waited_for_when_looked_at) {
    held_map h{2, 1};
    auto results = h.map();
    auto it = results.begin();
    EXPECT_EQ(*it, 0);
    ++it;  // item 1 is held: had ++ waited, item 1 would time out below
    h.open();
    EXPECT_EQ(*it, 1);
    ++it;
    EXPECT_EQ(it, std::default_sentinel);
    EXPECT_FALSE(h.late.load());
}

// Moving a range invalidates its iterators; begin() on the moved-to range continues
// where iteration stopped, and the moved-from range is empty and cancels nothing.
TEST(MapRanges, moving_a_range_mid_iteration_continues_from_the_new_object) {
    thread_pool_executor pool{2};
    std::vector<int> in{0, 1, 2, 3, 4};
    auto first = pool.map([](int x) { return x * 10; }, in);
    auto it = first.begin();
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_EQ(*it, 10);
    auto second = std::move(first);
    EXPECT_EQ(first.begin(), first.end());  // NOLINT(bugprone-use-after-move): moved-from is empty
    std::vector<int> out;
    for (auto jt = second.begin(); jt != second.end(); ++jt) out.push_back(*jt);  // the current element moved too
    EXPECT_EQ(out, (std::vector<int>{10, 20, 30, 40}));
    // Ranges stored before iterating: a vector of ranges, iterated later.
    std::vector<int_range> stored;
    stored.push_back(pool.map([](int x) { return x + 1; }, in));
    stored.push_back(pool.map([](int x) { return x + 2; }, in));
    int sum = 0;
    for (auto& r : stored)
        for (int v : r) sum += v;
    EXPECT_EQ(sum, 10 + 5 + 10 + 10);
}

// Move assignment drops the assigned-to range as its destructor would: once started,
// its outstanding calls are cancelled.
TEST(MapRanges, move_assignment_drops_the_old_range_like_its_destructor) {
    held_map h{4, 1};
    auto results = h.map();
    auto it = results.begin();
    EXPECT_EQ(*it, 0);  // started; item 1 holds the only thread, items 2 and 3 are queued
    std::vector<int> in{7};
    results = h.pool.map([](int x) { return x; }, in);
    h.open();
    std::vector<int> out;
    for (int v : results) out.push_back(v);
    EXPECT_EQ(out, (std::vector<int>{7}));
    h.pool.shutdown(true);
    EXPECT_EQ(h.ran.load(), 2);  // items 0 and 1; 2 and 3 were cancelled
    EXPECT_FALSE(h.late.load());
}

#if defined(__clang__)
TEST(MapRanges, std_views_compose_with_map_and_as_completed) {
    GTEST_SKIP() << "clang 14 cannot compile libstdc++ 12's std::views (see include/weft/detail/iterable.hpp); "
                    "this test runs in the g++ builds";
}
#else
TEST(MapRanges, std_views_compose_with_map_and_as_completed) {
    thread_pool_executor pool{2};
    std::vector<int> in{1, 2, 3, 4};
    std::vector<int> out;
    for (int v : pool.map([](int x) { return x * x; }, in) | std::views::transform([](int x) { return x + 1; }))
        out.push_back(v);
    EXPECT_EQ(out, (std::vector<int>{2, 5, 10, 17}));
    int sum = 0;
    std::ranges::for_each(pool.map([](int x) { return x; }, in), [&](int v) { sum += v; });
    EXPECT_EQ(sum, 10);
    auto filtered = pool.map([](int x) { return x; }, in) | std::views::filter([](int x) { return x % 2 == 0; });
    EXPECT_EQ(std::ranges::distance(filtered), 2);
}

// take(n) stops after n results without waiting for result n + 1 (as Python's islice);
// the range then dies started, so the calls not yet run are cancelled.
TEST(MapRanges, take_stops_without_waiting_for_the_next_result_and_cancels_the_rest) {
    held_map h{5, 2};
    std::vector<int> out;
    for (int v : h.map() | std::views::take(2)) out.push_back(v);
    EXPECT_EQ(out, (std::vector<int>{0, 1}));
    h.open();
    h.pool.shutdown(true);
    EXPECT_EQ(h.ran.load(), 3);  // 0, 1 and the held 2 (it had started); 3 and 4 cancelled
    EXPECT_FALSE(h.late.load());
}

TEST(MapRanges, as_completed_take_one_is_the_first_completed) {
    weft::promise<int> never;
    weft::promise<int> ready;
    ready.set_value(42);
    std::vector fs{never.get_future(), ready.get_future()};
    std::vector<int> first;
    for (const weft::future<int>& f : weft::as_completed(fs) | std::views::take(1)) first.push_back(f.result());
    EXPECT_EQ(first, (std::vector<int>{42}));
    auto results = weft::as_completed(fs) | std::views::transform([](const weft::future<int>& f) { return f.done(); });
    auto it = std::ranges::begin(results);
    EXPECT_TRUE(*it);
    never.set_value(0);
    ++it;
    EXPECT_TRUE(*it);
}
#endif

// as_completed's range moves like map's.
TEST(MapRanges, as_completed_range_moves) {
    weft::promise<int> a;
    weft::promise<int> b;
    a.set_value(1);
    auto first = weft::as_completed(std::vector{a.get_future(), b.get_future()});
    auto it = first.begin();
    EXPECT_EQ(it->result(), 1);
    futures_range second = std::move(first);
    EXPECT_EQ(first.begin(), first.end());  // NOLINT(bugprone-use-after-move): moved-from is empty
    b.set_value(2);
    std::vector<int> out;
    for (auto jt = second.begin(); jt != second.end(); ++jt) out.push_back(jt->result());
    EXPECT_EQ(out, (std::vector<int>{1, 2}));
    futures_range third = weft::as_completed(std::vector<weft::future<int>>{});
    third = std::move(second);
    EXPECT_EQ(third.begin(), third.end());
}

}  // namespace
