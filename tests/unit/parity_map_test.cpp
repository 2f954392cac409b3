// thread_pool_executor::map (spec/python_parity.md B52-B58).
#include "parity_support.hpp"

#include <weft/thread_pool_executor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <list>
#include <stdexcept>
#include <string>
#include <thread>
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
    try {
        ++it;
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
    EXPECT_THROW(++it, weft::timeout_error);
    EXPECT_EQ(it, std::default_sentinel);
    release.open();
    pool.shutdown(true);
}

TEST(Parity, B57_dropping_the_range_cancels_outstanding_futures) {
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
    }  // dropped without iterating
    release.open();
    pool.shutdown(true);
    EXPECT_EQ(ran.load(), 1);  // only the running item finished
}

TEST(Parity, B58_buffersize_limits_calls_submitted_ahead) {
    thread_pool_executor pool{2};
    std::atomic<int> consumed{0};
    counting_range counted{10, consumed};
    auto results = pool.map(map_options{.buffersize = 2}, [](int x) { return x * 10; }, counted);
    EXPECT_EQ(consumed.load(), 2);
    auto it = results.begin();  // each advance submits one more before waiting
    EXPECT_EQ(consumed.load(), 3);
    EXPECT_EQ(*it, 0);
    std::vector<int> out{*it};
    for (++it; it != std::default_sentinel; ++it) out.push_back(*it);
    EXPECT_EQ(out, (std::vector<int>{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}));
    EXPECT_EQ(consumed.load(), 10);
    std::vector<int> in{1};
    EXPECT_THROW(pool.map(map_options{.buffersize = 0}, [](int x) { return x; }, in), std::invalid_argument);
    EXPECT_THROW(pool.map(map_options{.buffersize = -1}, [](int x) { return x; }, in), std::invalid_argument);
}

TEST(Parity, B52_map_after_shutdown_throws_at_the_call) {
    thread_pool_executor pool{1};
    pool.shutdown();
    std::vector<int> in{1};
    EXPECT_THROW(pool.map([](int x) { return x; }, in), weft::executor_shutdown_error);
}

}  // namespace
