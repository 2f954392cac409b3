// weft::wait and weft::as_completed (spec/python_parity.md B43-B51).
#include "parity_support.hpp"

#include <weft/thread_pool_executor.hpp>
#include <weft/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <list>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::return_when;
using weft::thread_pool_executor;

template <class T>
bool contains(const std::vector<weft::future<T>>& v, const weft::future<T>& f) {
    return std::find(v.begin(), v.end(), f) != v.end();
}

TEST(Parity, B43_wait_defaults_to_all_completed_and_removes_duplicates) {
    thread_pool_executor pool{2};
    std::vector<weft::future<int>> fs;
    for (int i = 0; i < 6; ++i)
        fs.push_back(pool.submit([i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(i));  // simulated work
            return i;
        }));
    fs.push_back(fs[0]);
    fs.push_back(fs[3]);
    auto [done, not_done] = weft::wait(fs);
    EXPECT_EQ(done.size(), 6U);
    EXPECT_TRUE(not_done.empty());
    for (auto& f : fs) EXPECT_TRUE(f.done());
}

// Regression: wait() re-checked done() while adding its callbacks, so a future that
// finished between its first look and the callback was never counted (a hang).
TEST(Parity, B43_wait_counts_futures_that_finish_while_it_adds_callbacks) {
    thread_pool_executor pool{2};
    for (int round = 0; round < 300; ++round) {
        std::vector<weft::future<int>> fs;
        for (int i = 0; i < 8; ++i) fs.push_back(pool.submit([i] { return i; }));
        auto r = weft::wait(fs, 30s);
        ASSERT_EQ(r.done.size(), 8U) << "round " << round;
    }
}

TEST(Parity, B44_wait_on_nothing_returns_two_empty_lists) {
    auto r = weft::wait(std::vector<weft::future<int>>{});
    EXPECT_TRUE(r.done.empty());
    EXPECT_TRUE(r.not_done.empty());
    auto t = weft::wait(std::list<weft::future<void>>{}, 1h, return_when::first_completed);
    EXPECT_TRUE(t.done.empty());
}

TEST(Parity, B45_an_expired_timeout_returns_the_partial_split_and_never_throws) {
    weft::promise<int> pending;
    weft::promise<int> finished;
    finished.set_value(1);
    std::vector<weft::future<int>> fs{pending.get_future(), finished.get_future()};
    for (auto timeout : {std::chrono::milliseconds{5}, std::chrono::milliseconds{0}, std::chrono::milliseconds{-5}}) {
        auto r = weft::wait(fs, timeout);
        ASSERT_EQ(r.done.size(), 1U);
        EXPECT_EQ(r.done[0], fs[1]);
        ASSERT_EQ(r.not_done.size(), 1U);
        EXPECT_EQ(r.not_done[0], fs[0]);
    }
    pending.set_value(2);
}

TEST(Parity, B46_first_completed_returns_at_once_if_one_is_done) {
    weft::promise<int> never;
    weft::promise<int> ready;
    ready.set_value(1);
    auto r = weft::wait(std::vector{never.get_future(), ready.get_future()}, return_when::first_completed);
    EXPECT_EQ(r.done.size(), 1U);
    EXPECT_EQ(r.not_done.size(), 1U);
    // And it wakes on the first completion from another thread.
    weft::promise<int> later;
    std::thread setter{[&] { later.set_value(2); }};
    auto s = weft::wait(std::vector{never.get_future(), later.get_future()}, return_when::first_completed);
    setter.join();
    ASSERT_EQ(s.done.size(), 1U);
    EXPECT_EQ(s.done[0].result(), 2);
    never.set_value(0);
}

TEST(Parity, B47_first_exception_returns_on_a_failure_not_on_a_cancellation) {
    weft::promise<int> never;
    weft::promise<int> failing;
    weft::promise<int> cancelled;
    auto fc = cancelled.get_future();
    fc.cancel();
    // A cancellation is not a failure: with a timeout it waits the timeout out.
    auto r1 = weft::wait(std::vector{never.get_future(), fc}, 10ms, return_when::first_exception);
    EXPECT_EQ(r1.done.size(), 1U);
    EXPECT_EQ(r1.not_done.size(), 1U);
    std::thread setter{[&] { failing.set_exception(std::make_exception_ptr(std::runtime_error("f"))); }};
    auto r2 = weft::wait(std::vector{never.get_future(), failing.get_future(), fc}, return_when::first_exception);
    setter.join();
    EXPECT_EQ(r2.done.size(), 2U);
    EXPECT_TRUE(contains(r2.not_done, never.get_future()));
    // No failure at all: behaves as all_completed.
    weft::promise<int> a, b;
    std::thread both{[&] {
        a.set_value(1);
        b.set_value(2);
    }};
    auto r3 = weft::wait(std::vector{a.get_future(), b.get_future()}, return_when::first_exception);
    both.join();
    EXPECT_EQ(r3.done.size(), 2U);
    never.set_value(0);
}

TEST(Parity, B48_an_invalid_return_when_is_invalid_argument) {
    weft::promise<int> p;
    p.set_value(1);
    EXPECT_THROW(weft::wait(std::vector{p.get_future()}, static_cast<return_when>(42)), std::invalid_argument);
}

TEST(Parity, B49_cancelled_futures_count_as_done_however_they_were_cancelled) {
    weft::test::held_pool held;
    auto& [release, started, pool, running] = held;
    auto user_cancelled = pool.submit([] {});
    auto shutdown_cancelled = pool.submit([] {});
    ASSERT_TRUE(started.wait_for_at_least(1));
    user_cancelled.cancel();
    pool.shutdown(false, true);
    std::vector fs{user_cancelled, shutdown_cancelled};
    auto r = weft::wait(fs);  // untimed: must not hang (CPython gh-92001)
    EXPECT_EQ(r.done.size(), 2U);
    int yielded = 0;
    for ([[maybe_unused]] auto& f : weft::as_completed(fs)) ++yielded;
    EXPECT_EQ(yielded, 2);
    release.open();
    running.result();
}

TEST(Parity, B50_as_completed_yields_done_first_then_completion_order_each_once) {
    weft::promise<int> p0, p1, p2;
    p2.set_value(2);
    std::vector fs{p0.get_future(), p1.get_future(), p2.get_future(), p2.get_future()};
    auto range = weft::as_completed(fs);
    auto it = range.begin();
    EXPECT_EQ(it->result(), 2);  // already done
    p1.set_value(1);
    ++it;
    EXPECT_EQ(it->result(), 1);
    std::thread setter{[&] { p0.set_value(0); }};
    ++it;  // waits for p0
    setter.join();
    EXPECT_EQ(it->result(), 0);
    ++it;
    EXPECT_EQ(it, std::default_sentinel);
    int n = 0;
    for ([[maybe_unused]] auto& f : weft::as_completed(std::vector<weft::future<int>>{})) ++n;
    EXPECT_EQ(n, 0);
}

TEST(Parity, B51_as_completed_timeout_reports_the_unfinished_count_from_the_call) {
    weft::promise<int> a, b, c;
    c.set_value(3);
    const auto called = std::chrono::steady_clock::now();
    auto range = weft::as_completed(std::array{a.get_future(), b.get_future(), c.get_future()}, 30ms);
    std::this_thread::sleep_until(called + 40ms);  // the timeout counts from the call
    auto it = range.begin();
    EXPECT_EQ(it->result(), 3);  // done ones are still yielded
    ++it;  // lazy: the next future is waited for when looked at
    try {
        (void)(it == std::default_sentinel);
        ADD_FAILURE() << "no timeout";
    } catch (const weft::timeout_error& e) {
        EXPECT_STREQ(e.what(), "weft::as_completed: 2 (of 3) futures unfinished");
    }
    a.set_value(1);
    b.set_value(2);
}

/// A value that counts its live instances.
struct counted {
    static inline std::atomic<int> live{0};
    int value = 0;
    explicit counted(int v) noexcept : value{v} { live.fetch_add(1); }
    counted(const counted& o) noexcept : value{o.value} { live.fetch_add(1); }
    counted& operator=(const counted&) = default;
    ~counted() { live.fetch_sub(1); }
};

// Regression: an as_completed range dropped early left a callback on each pending
// future holding the range's shared block, and each future finishing later was pushed
// into that block and kept (with its value) until every callback had run. CPython
// removes its waiters in the generator's `finally`.
TEST(Parity, B50_an_as_completed_range_dropped_early_keeps_no_future_alive) {
    ASSERT_EQ(counted::live.load(), 0);
    std::vector<std::optional<weft::promise<counted>>> promises(3);
    for (auto& p : promises) p.emplace();
    std::vector<std::optional<weft::future<counted>>> fs;
    for (auto& p : promises) fs.emplace_back(p->get_future());
    std::atomic<int> callbacks_run{0};
    for (auto& f : fs) f->add_done_callback([&](const weft::future<counted>&) { callbacks_run.fetch_add(1); });
    {
        auto range = weft::as_completed(std::vector{*fs[0], *fs[1], *fs[2]});
        promises[0]->set_value(counted{0});
        auto it = range.begin();
        EXPECT_EQ(it->result().value, 0);
    }  // dropped with two futures pending
    std::thread other{[&] { promises[1]->set_value(counted{1}); }};  // finishes on another thread
    other.join();
    EXPECT_EQ(callbacks_run.load(), 2);
    EXPECT_EQ(counted::live.load(), 2);
    promises[1].reset();
    fs[1].reset();  // the user's last handle of future 1, while future 2 is still pending
    EXPECT_EQ(counted::live.load(), 1);  // future 0's value only: the dead range kept nothing
    promises[2]->set_value(counted{2});
    EXPECT_EQ(callbacks_run.load(), 3);
    promises.clear();
    fs.clear();
    EXPECT_EQ(counted::live.load(), 0);
}

// The same for an as_completed range that timed out, and for weft::wait: its callbacks
// keep only a weak reference to a small signal, never a future.
TEST(Parity, B45_a_timed_out_wait_or_as_completed_keeps_no_future_alive) {
    ASSERT_EQ(counted::live.load(), 0);
    {
        weft::promise<counted> p;
        weft::promise<counted> q;
        std::vector fs{p.get_future(), q.get_future()};
        EXPECT_EQ(weft::wait(fs, 1ms).not_done.size(), 2U);
        EXPECT_EQ(weft::wait(fs, 1ms, return_when::first_completed).not_done.size(), 2U);
        EXPECT_EQ(weft::wait(fs, 0s, return_when::first_exception).not_done.size(), 2U);
        {
            auto range = weft::as_completed(fs, 1ms);
            EXPECT_THROW((void)(range.begin() == range.end()), weft::timeout_error);
        }
        p.set_value(counted{1});
        fs.clear();
        { [[maybe_unused]] weft::promise<counted> gone = std::move(p); }
        EXPECT_EQ(counted::live.load(), 0);  // q is still pending: its callbacks kept nothing
        q.set_value(counted{2});
        EXPECT_EQ(counted::live.load(), 1);
    }
    EXPECT_EQ(counted::live.load(), 0);
}

// Every timeout takes any duration: nanoseconds::min() and a negative floating one are
// "now", hours::max() and a huge floating one are no limit.
TEST(Parity, B45_B51_timeouts_take_any_duration_min_is_now_max_is_no_limit) {
    weft::promise<int> never;
    std::vector fs{never.get_future()};
    auto expect_now = [&](auto timeout) {
        EXPECT_EQ(weft::wait(fs, timeout).not_done.size(), 1U);
        auto range = weft::as_completed(fs, timeout);
        EXPECT_THROW((void)(range.begin() == range.end()), weft::timeout_error);
        EXPECT_THROW(fs[0].result(timeout), weft::timeout_error);
        EXPECT_THROW((void)fs[0].exception(timeout), weft::timeout_error);
    };
    expect_now(std::chrono::nanoseconds::min());
    expect_now(std::chrono::hours::min());
    expect_now(std::chrono::duration<double>{-2.5});
    expect_now(std::chrono::duration<double, std::milli>{0.5});
    auto expect_no_limit = [&](auto timeout) {
        weft::promise<int> p;
        std::vector gs{p.get_future()};
        std::thread setter{[&] {
            std::this_thread::sleep_for(2ms);  // the waits below block until this
            p.set_value(7);
        }};
        EXPECT_EQ(gs[0].result(timeout), 7);
        setter.join();
        EXPECT_EQ(weft::wait(gs, timeout).done.size(), 1U);
        int n = 0;
        for (auto& f : weft::as_completed(gs, timeout)) n += f.result();
        EXPECT_EQ(n, 7);
    };
    expect_no_limit(std::chrono::hours::max());
    expect_no_limit(std::chrono::nanoseconds::max());
    expect_no_limit(std::chrono::duration<double>{1e300});
    expect_no_limit(std::chrono::duration<float>{1.5f});
    never.set_value(0);
}

}  // namespace
