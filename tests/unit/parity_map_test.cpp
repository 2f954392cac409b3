// thread_pool_executor::map (spec/python_parity.md B52-B58).
#include "parity_support.hpp"

#include <weft/thread_pool_executor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::map_options;
using weft::thread_pool_executor;

/// 0, 1, ..., n-1, counting how many elements were read (one per submitted call).
class counting_range {
public:
    counting_range(int n, std::atomic<int>& reads) : m_n{n}, m_reads{&reads} {}
    class iterator {
    public:
        iterator(int i, std::atomic<int>* reads) : m_i{i}, m_reads{reads} {}
        int operator*() const {
            m_reads->fetch_add(1);
            return m_i;
        }
        iterator& operator++() {
            ++m_i;
            return *this;
        }
        bool operator!=(const iterator& o) const { return m_i != o.m_i; }

    private:
        int m_i;
        std::atomic<int>* m_reads;
    };
    iterator begin() const { return {0, m_reads}; }
    iterator end() const { return {m_n, m_reads}; }

private:
    int m_n;
    std::atomic<int>* m_reads;
};

static_assert(std::input_iterator<weft::detail::map_range<int>::iterator>);

TEST(Parity, B52_map_submits_every_item_at_call_time) {
    thread_pool_executor pool{2};
    std::atomic<int> calls{0};
    std::vector<int> in{1, 2, 3, 4, 5, 6};
    auto results = pool.map([&](int x) {
        calls.fetch_add(1);
        return x * x;
    }, in);
    pool.shutdown(/*wait=*/true);  // nothing iterated yet: all calls ran anyway
    EXPECT_EQ(calls.load(), 6);
    std::vector<int> out;
    for (int v : results) out.push_back(v);
    EXPECT_EQ(out, (std::vector<int>{1, 4, 9, 16, 25, 36}));
}

TEST(Parity, B53_results_come_in_input_order_whatever_the_completion_order) {
    thread_pool_executor pool{4};
    std::vector<int> in{4, 3, 2, 1, 0};
    std::vector<int> out;
    for (int v : pool.map([](int x) {
             std::this_thread::sleep_for(std::chrono::milliseconds(x));  // later items finish first
             return x;
         }, in))
        out.push_back(v);
    EXPECT_EQ(out, in);
}

// The range moves each result out of its future: a move-only result works, and only
// the range's current element holds a result (CPython test_free_reference).
TEST(Parity, B53_results_are_moved_out_of_their_futures) {
    thread_pool_executor pool{2};
    std::vector<int> in{1, 2, 3};
    int sum = 0;
    for (std::unique_ptr<int>& p : pool.map([](int x) { return std::make_unique<int>(x); }, in)) {
        std::unique_ptr<int> mine = std::move(p);
        sum += *mine;
    }
    EXPECT_EQ(sum, 6);
}

TEST(Parity, B54_several_inputs_are_zipped_the_shortest_ends_it_none_is_empty) {
    thread_pool_executor pool{2};
    std::vector<int> a{1, 2, 3, 4};
    std::list<std::string> b{"a", "b", "c"};
    std::vector<std::string> out;
    for (auto& v : pool.map([](int n, const std::string& s) { return s + std::to_string(n); }, a, b)) out.push_back(v);
    EXPECT_EQ(out, (std::vector<std::string>{"a1", "b2", "c3"}));
    // A temporary input is kept alive by the range.
    int sum = 0;
    for (int v : pool.map([](int x) { return x + 1; }, std::vector<int>{1, 2, 3})) sum += v;
    EXPECT_EQ(sum, 9);
    auto none = pool.map([] { return 1; });
    EXPECT_EQ(none.begin(), std::default_sentinel);
    // A void fn yields std::monostate per item.
    int count = 0;
    for ([[maybe_unused]] std::monostate m : pool.map([](int) {}, a)) ++count;
    EXPECT_EQ(count, 4);
}

TEST(Parity, B55_an_exception_surfaces_at_its_item_and_cancels_the_items_not_started) {
    thread_pool_executor pool{1};
    weft::test::gate release;
    std::atomic<int> started{0};
    std::vector<int> in{0, 1, 2, 3, 4, 5, 6, 7};
    auto results = pool.map([&](int x) {
        started.fetch_add(1);
        if (x == 1) throw std::runtime_error("item 1");
        if (x == 2) release.wait();  // holds the only thread while item 1 is reached
        return x;
    }, in);
    auto it = results.begin();
    EXPECT_EQ(*it, 0);
    ++it;  // lazy: asks for item 1, waited for when looked at
    try {
        (void)*it;
        ADD_FAILURE() << "the failing item did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "item 1");
    }
    EXPECT_EQ(it, std::default_sentinel);  // the range ended
    release.open();
    pool.shutdown(true);
    EXPECT_LE(started.load(), 3);  // items 3..7 were cancelled before they started
}

TEST(Parity, B56_the_timeout_counts_from_the_call_and_done_results_are_still_returned) {
    thread_pool_executor pool{1};
    weft::test::gate release;
    weft::test::counter second_started;
    std::vector<int> in{0, 1, 2};
    const auto timeout = 50ms;
    const auto called = std::chrono::steady_clock::now();
    auto results = pool.map(map_options{.timeout = timeout}, [&](int x) {
        if (x == 1) {
            second_started.add();  // one thread, FIFO: item 0 is done
            release.wait();
        }
        return x;
    }, in);
    ASSERT_TRUE(second_started.wait_for_at_least(1));
    std::this_thread::sleep_until(called + timeout + 10ms);  // let the deadline pass
    auto it = results.begin();  // item 0 was done before the deadline: still returned
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_THROW((void)(it == std::default_sentinel), weft::timeout_error);
    EXPECT_EQ(it, std::default_sentinel);
    release.open();
    pool.shutdown(true);
}

// Regression: deadline_after(nanoseconds::min()) wrapped around to the far future, so
// such a map waited instead of timing out. Every timeout takes any duration, saturated.
TEST(Parity, B56_any_duration_is_a_timeout_min_is_now_max_is_no_limit) {
    const auto before = std::chrono::steady_clock::now();
    const auto now = weft::detail::deadline_after(std::chrono::nanoseconds::min());
    EXPECT_GE(now, before);
    EXPECT_LE(now, std::chrono::steady_clock::now());
    EXPECT_EQ(weft::detail::deadline_after(std::chrono::nanoseconds::max()), std::chrono::steady_clock::time_point::max());
    thread_pool_executor pool{1};
    weft::test::gate release;
    std::vector<int> in{0, 1};
    for (const map_options options : {map_options{.timeout = std::chrono::nanoseconds::min()},
                                      map_options{.timeout = std::chrono::hours::min()},
                                      map_options{.timeout = std::chrono::duration<double>{-1.5}},
                                      map_options{.timeout = 0s}}) {
        auto results = pool.map(options, [&](int x) {
            release.wait();  // slow: not done before the gate opens
            return x;
        }, in);
        EXPECT_THROW((void)(results.begin() == results.end()), weft::timeout_error);
    }
    release.open();
    for (const map_options options : {map_options{.timeout = std::chrono::hours::max()},
                                      map_options{.timeout = std::chrono::nanoseconds::max()},
                                      map_options{.timeout = std::chrono::duration<double>{1e300}},
                                      map_options{.timeout = 1.5s}}) {
        std::vector<int> out;
        for (int v : pool.map(options, [](int x) {
                 std::this_thread::sleep_for(2ms);  // a slow call, waited for
                 return x;
             }, in))
            out.push_back(v);
        EXPECT_EQ(out, in);
    }
}

template <class T>
concept timeout_accepts = requires(T v) { map_options{.timeout = v}; };
static_assert(timeout_accepts<std::chrono::seconds>);
static_assert(timeout_accepts<std::chrono::duration<double>>);
static_assert(timeout_accepts<std::chrono::duration<float, std::milli>>);
static_assert(!timeout_accepts<int>);
static_assert(!timeout_accepts<double>);

TEST(Parity, B57_dropping_the_range_after_iteration_began_cancels_outstanding_futures) {
    thread_pool_executor pool{1};
    weft::test::gate release;
    weft::test::counter started;
    std::atomic<int> ran{0};
    std::vector<int> in{0, 1, 2, 3, 4};
    {
        auto results = pool.map([&](int x) {
            started.add();
            if (x == 0) release.wait();
            ran.fetch_add(1);
            return x;
        }, in);
        ASSERT_TRUE(started.wait_for_at_least(1));
        (void)results.begin();  // iteration began (nothing waited for yet)
    }  // dropped: items 1..4 are cancelled
    release.open();
    pool.shutdown(true);
    EXPECT_EQ(ran.load(), 1);  // only the running item finished
}

// Regression: dropping a map range that was never iterated cancelled its calls, so a
// fire-and-forget `pool.map(f, xs);` silently lost work (Python runs every call: an
// unstarted generator never runs its cancelling `finally`).
TEST(Parity, B57_a_map_never_iterated_runs_every_call_exactly_once) {
    thread_pool_executor pool{1};
    weft::test::gate release;
    std::vector<std::atomic<int>> runs(50);
    std::vector<int> in(runs.size());
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int>(i);
    (void)pool.submit([&] { release.wait(); });  // holds the only thread: the calls below stay queued
    pool.map([&](int x) { runs[static_cast<std::size_t>(x)].fetch_add(1); }, in);  // result discarded
    auto kept = pool.map([&](int x) { runs[static_cast<std::size_t>(x)].fetch_add(1); }, in);
    auto moved = std::move(kept);  // moving does not start it either
    { [[maybe_unused]] auto dropped = std::move(moved); }
    release.open();
    pool.shutdown(true);
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 2) << "item " << i;
}

// With a buffer size, a range never iterated runs what it submitted and submits nothing
// more (Python: test_map_buffersize_when_buffer_is_full).
TEST(Parity, B57_a_buffered_map_never_iterated_runs_only_what_it_submitted) {
    thread_pool_executor pool{2};
    std::atomic<int> reads{0};
    std::atomic<int> ran{0};
    counting_range counted{10, reads};
    pool.map(map_options{.buffersize = 3}, [&](int) { ran.fetch_add(1); }, counted);
    pool.shutdown(true);
    EXPECT_EQ(reads.load(), 3);
    EXPECT_EQ(ran.load(), 3);
}

TEST(Parity, B58_buffersize_limits_calls_submitted_ahead) {
    thread_pool_executor pool{2};
    std::atomic<int> consumed{0};
    counting_range counted{10, consumed};
    auto results = pool.map(map_options{.buffersize = 2}, [](int x) { return x * 10; }, counted);
    EXPECT_EQ(consumed.load(), 2);
    auto it = results.begin();
    EXPECT_EQ(*it, 0);  // each advance submits one more before waiting
    EXPECT_EQ(consumed.load(), 3);
    std::vector<int> out{*it};
    for (++it; it != std::default_sentinel; ++it) out.push_back(*it);
    EXPECT_EQ(out, (std::vector<int>{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}));
    EXPECT_EQ(consumed.load(), 10);
    std::vector<int> in{1};
    for (const int bad : {0, -1}) {
        try {
            pool.map(map_options{.buffersize = bad}, [](int x) { return x; }, in);
            ADD_FAILURE() << "buffersize " << bad << " accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "weft::thread_pool_executor::map: buffersize must be >= 1 (Python: None or > 0)");
        }
    }
}

// buffersize is an integer: any integer type converts, a double does not compile
// (Python: TypeError "buffersize must be an integer or None").
template <class T>
concept buffersize_accepts = requires(T v) { map_options{.buffersize = v}; };
static_assert(buffersize_accepts<int>);
static_assert(buffersize_accepts<std::size_t>);
static_assert(buffersize_accepts<long long>);
static_assert(buffersize_accepts<unsigned char>);
static_assert(!buffersize_accepts<double>);
static_assert(!buffersize_accepts<float>);
static_assert(!buffersize_accepts<bool>);
static_assert(!buffersize_accepts<char>);
static_assert(!std::is_constructible_v<weft::item_count, double>);
static_assert(std::is_convertible_v<std::size_t, weft::item_count>);

TEST(Parity, B58_buffersize_takes_any_integer_type_and_saturates) {
    EXPECT_EQ(weft::item_count{2}.value(), 2);
    EXPECT_EQ(weft::item_count{std::size_t{2}}.value(), 2);
    EXPECT_EQ(weft::item_count{std::numeric_limits<std::size_t>::max()}.value(),
              std::numeric_limits<std::ptrdiff_t>::max());
    EXPECT_EQ(weft::item_count{-3}.value(), -3);
    thread_pool_executor pool{2};
    std::vector<int> in{1, 2, 3};
    int sum = 0;
    for (int v : pool.map(map_options{.buffersize = std::size_t{2}}, [](int x) { return x; }, in)) sum += v;
    for (int v : pool.map(map_options{.buffersize = std::numeric_limits<std::uint64_t>::max()}, [](int x) { return x; }, in))
        sum += v;
    EXPECT_EQ(sum, 12);
}

TEST(Parity, B52_map_after_shutdown_throws_at_the_call) {
    thread_pool_executor pool{1};
    pool.shutdown();
    std::vector<int> in{1};
    EXPECT_THROW(pool.map([](int x) { return x; }, in), weft::executor_shutdown_error);
}

}  // namespace
