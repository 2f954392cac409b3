// Future behaviour through thread_pool_executor and weft::promise (spec/python_parity.md
// B26-B42). The futures layer itself is tested in future_test.cpp; these are the
// Python-parity checks, by number.
#include "parity_support.hpp"

#include <weft/future.hpp>
#include <weft/thread_pool_executor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::thread_pool_executor;

TEST(Parity, B26_a_fresh_future_is_neither_running_done_nor_cancelled) {
    weft::promise<int> p;
    auto f = p.get_future();
    EXPECT_FALSE(f.running());
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.cancelled());
    p.set_value(1);
}

TEST(Parity, B27_cancel_on_pending_wakes_waiters_and_runs_callbacks_in_the_cancelling_thread) {
    weft::promise<int> p;
    auto f = p.get_future();
    std::atomic<bool> waiter_saw_cancel{false};
    std::thread waiter{[&] {
        try {
            f.result();
        } catch (const weft::cancelled_error&) {
            waiter_saw_cancel = true;
        }
    }};
    std::thread::id callback_thread;
    f.add_done_callback([&](const weft::future<int>&) { callback_thread = std::this_thread::get_id(); });
    EXPECT_TRUE(f.cancel());
    waiter.join();
    EXPECT_TRUE(waiter_saw_cancel.load());
    EXPECT_EQ(callback_thread, std::this_thread::get_id());
}

TEST(Parity, B28_cancel_on_cancelled_is_true_on_running_or_finished_false) {
    weft::test::held_pool held;
    auto& [release, started, pool, running] = held;
    auto queued = pool.submit([] {});
    ASSERT_TRUE(started.wait_for_at_least(1));
    EXPECT_TRUE(queued.cancel());
    EXPECT_TRUE(queued.cancel());
    EXPECT_FALSE(running.cancel());
    release.open();
    running.result();
    EXPECT_FALSE(running.cancel());
    EXPECT_FALSE(running.cancelled());
}

TEST(Parity, B29_done_when_cancelled_or_finished_running_only_while_running) {
    weft::test::held_pool held;
    auto& [release, started, pool, f] = held;
    ASSERT_TRUE(started.wait_for_at_least(1));
    EXPECT_TRUE(f.running());
    EXPECT_FALSE(f.done());
    release.open();
    f.result();
    EXPECT_FALSE(f.running());
    EXPECT_TRUE(f.done());
    weft::promise<int> p;
    auto c = p.get_future();
    c.cancel();
    EXPECT_TRUE(c.done());
    EXPECT_FALSE(c.running());
}

TEST(Parity, B30_result_and_exception_on_a_cancelled_future_throw_cancelled_error) {
    weft::promise<int> p;
    auto f = p.get_future();
    f.cancel();
    EXPECT_THROW(f.result(), weft::cancelled_error);
    EXPECT_THROW(f.exception(), weft::cancelled_error);
    EXPECT_THROW(f.result(1s), weft::cancelled_error);
}

TEST(Parity, B31_result_timeout_expires_zero_or_negative_is_an_immediate_check) {
    weft::promise<int> p;
    auto f = p.get_future();
    EXPECT_THROW(f.result(1ms), weft::timeout_error);
    EXPECT_THROW(f.result(0s), weft::timeout_error);
    EXPECT_THROW(f.result(-5s), weft::timeout_error);
    EXPECT_THROW(f.exception(0s), weft::timeout_error);
    p.set_value(4);
    EXPECT_EQ(f.result(0s), 4);
    EXPECT_EQ(f.result(-1s), 4);
}

TEST(Parity, B32_result_rethrows_the_very_exception_object_stored) {
    thread_pool_executor pool{1};
    auto f = pool.submit([]() -> int { throw std::runtime_error("same"); });
    const void* first = nullptr;
    const void* second = nullptr;
    try {
        f.result();
    } catch (const std::runtime_error& e) {
        first = &e;
    }
    try {
        f.result();
    } catch (const std::runtime_error& e) {
        second = &e;
    }
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first, second);
    EXPECT_EQ(f.exception(), f.exception());
}

TEST(Parity, B33_exception_returns_the_stored_pointer_or_null_without_throwing) {
    thread_pool_executor pool{1};
    auto ok = pool.submit([] { return 1; });
    auto bad = pool.submit([]() -> int { throw std::invalid_argument("x"); });
    EXPECT_EQ(ok.exception(), nullptr);
    ASSERT_NE(bad.exception(), nullptr);
    EXPECT_THROW(std::rethrow_exception(bad.exception()), std::invalid_argument);
}

TEST(Parity, B34_setting_a_finished_or_cancelled_future_is_invalid_state) {
    weft::promise<int> done;
    done.set_value(1);
    EXPECT_THROW(done.set_value(2), weft::invalid_state_error);
    EXPECT_THROW(done.set_exception(std::make_exception_ptr(std::runtime_error("x"))), weft::invalid_state_error);
    weft::promise<int> cancelled;
    cancelled.get_future().cancel();
    EXPECT_THROW(cancelled.set_value(2), weft::invalid_state_error);
    EXPECT_THROW(cancelled.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
                 weft::invalid_state_error);
}

TEST(Parity, B35_set_running_or_notify_cancel) {
    weft::promise<int> p;
    EXPECT_TRUE(p.set_running_or_notify_cancel());
    EXPECT_TRUE(p.get_future().running());
    try {
        p.set_running_or_notify_cancel();
        ADD_FAILURE() << "running -> running accepted";
    } catch (const weft::invalid_state_error& e) {
        EXPECT_STREQ(e.what(), "weft::promise::set_running_or_notify_cancel: Future in unexpected state");
    }
    p.set_value(1);
    EXPECT_THROW(p.set_running_or_notify_cancel(), weft::invalid_state_error);

    weft::promise<int> c;
    auto f = c.get_future();
    std::atomic<bool> woke{false};
    std::thread waiter{[&] {
        f.wait();
        woke = true;
    }};
    f.cancel();
    EXPECT_FALSE(c.set_running_or_notify_cancel());
    waiter.join();
    EXPECT_TRUE(woke.load());
}

TEST(Parity, B36_set_value_without_set_running_is_legal) {
    weft::promise<std::string> p;
    p.set_value("v");
    EXPECT_EQ(p.get_future().result(), "v");
}

TEST(Parity, B37_callbacks_get_the_future_run_in_order_on_the_completing_thread) {
    thread_pool_executor pool{1};
    weft::test::gate release;
    auto f = pool.submit([&] {
        release.wait();
        return 3;
    });
    std::vector<int> order;
    std::vector<std::string> threads;
    for (int i = 0; i < 4; ++i)
        f.add_done_callback([&, i](const weft::future<int>& self) {
            EXPECT_EQ(self, f);
            EXPECT_EQ(self.result(), 3);
            order.push_back(i);
            threads.emplace_back(thread_pool_executor::current_thread_name());
        });
    release.open();
    f.result();
    pool.shutdown();  // callbacks ran before the pool thread finished its task
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
    for (const auto& t : threads) EXPECT_EQ(t, pool.thread_name_prefix() + "_0");
}

TEST(Parity, B38_add_done_callback_on_a_done_future_runs_now_in_the_caller) {
    weft::promise<int> p;
    p.set_value(1);
    std::thread::id ran_on;
    p.get_future().add_done_callback([&](const weft::future<int>&) { ran_on = std::this_thread::get_id(); });
    EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(Parity, B39_B40_a_throwing_callback_is_reported_and_later_ones_still_run) {
    weft::promise<int> p;
    auto f = p.get_future();
    std::vector<int> ran;
    ::testing::internal::CaptureStderr();
    f.add_done_callback([&](const weft::future<int>&) {
        ran.push_back(1);
        throw std::runtime_error("callback one");
    });
    f.add_done_callback([&](const weft::future<int>&) { ran.push_back(2); });
    p.set_value(1);
    // The immediate path behaves the same.
    f.add_done_callback([&](const weft::future<int>&) {
        ran.push_back(3);
        throw 7;  // not a std::exception: same rule (B40)
    });
    f.add_done_callback([&](const weft::future<int>&) { ran.push_back(4); });
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(ran, (std::vector<int>{1, 2, 3, 4}));
    EXPECT_NE(err.find("callback one"), std::string::npos) << err;
}

TEST(Parity, B41_waiters_are_woken_before_callbacks_run) {
    weft::promise<int> p;
    auto f = p.get_future();
    weft::test::counter waiter_returned;
    std::thread waiter{[&] {
        f.result();
        waiter_returned.add();
    }};
    std::atomic<bool> seen_in_callback{false};
    f.add_done_callback([&](const weft::future<int>&) {
        // Blocks the completing thread: the waiter can only return if it was woken first.
        seen_in_callback = waiter_returned.wait_for_at_least(1);
    });
    // Let the waiter block first (a waiter arriving later returns at once anyway).
    std::this_thread::sleep_for(20ms);
    p.set_value(1);
    waiter.join();
    EXPECT_TRUE(seen_in_callback.load());
}

TEST(Parity, B42_add_done_callback_inside_a_callback_runs_immediately) {
    weft::promise<int> p;
    auto f = p.get_future();
    std::vector<std::string> events;
    f.add_done_callback([&](const weft::future<int>& self) {
        events.emplace_back("outer begin");
        self.add_done_callback([&](const weft::future<int>&) { events.emplace_back("inner"); });
        events.emplace_back("outer end");
    });
    p.set_value(1);
    EXPECT_EQ(events, (std::vector<std::string>{"outer begin", "inner", "outer end"}));
}

}  // namespace
