// weft::future, weft::promise and weft::async: every state transition and error, the
// waits and their timeouts, async's arguments, then/then_inline/continue_with and
// add_done_callback (where they run, how often, in which order).
#include "test_signal.hpp"

#include <weft/future.hpp>
#include <weft/this_worker.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

using weft::test::signal;

/// The exception_ptr and object address that `f.get()` throws; fails if it returns.
template <class T>
std::pair<std::exception_ptr, const void*> caught_by_get(const weft::future<T>& f) {
    try {
        f.get();
    } catch (const std::exception& e) {
        return {std::current_exception(), &e};
    } catch (...) {
        return {std::current_exception(), nullptr};
    }
    ADD_FAILURE() << "get() returned instead of throwing";
    return {};
}

// ---- futures and promises without an executor --------------------------------------

TEST(Future, DefaultConstructedIsInvalidAndEveryOperationThrows) {
    const weft::future<int> f;
    EXPECT_FALSE(f.valid());
    EXPECT_THROW(f.get(), weft::invalid_state_error);
    EXPECT_THROW(f.result(), weft::invalid_state_error);
    EXPECT_THROW(f.wait(), weft::invalid_state_error);
    EXPECT_THROW(f.wait_for(0s), weft::invalid_state_error);
    EXPECT_THROW((void)f.done(), weft::invalid_state_error);
    EXPECT_THROW((void)f.running(), weft::invalid_state_error);
    EXPECT_THROW((void)f.cancelled(), weft::invalid_state_error);
    EXPECT_THROW((void)f.cancel(), weft::invalid_state_error);
    EXPECT_THROW((void)f.exception(), weft::invalid_state_error);
    EXPECT_THROW((void)f.then([](int) {}), weft::invalid_state_error);
    EXPECT_THROW(f.add_done_callback([](const weft::future<int>&) {}), weft::invalid_state_error);
    const weft::future<void> v;
    EXPECT_THROW(v.get(), weft::invalid_state_error);
}

TEST(Promise, FreshFutureIsNeitherRunningNorDoneNorCancelled) {
    weft::promise<int> p;
    const weft::future<int> f = p.get_future();
    EXPECT_TRUE(f.valid());
    EXPECT_FALSE(f.running());
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);
    p.set_value(1);
}

TEST(Promise, GetFutureTwiceSharesOneState) {
    weft::promise<int> p;
    const weft::future<int> a = p.get_future();
    const weft::future<int> b = p.get_future();
    EXPECT_TRUE(a == b);
    EXPECT_EQ(std::hash<weft::future<int>>{}(a), std::hash<weft::future<int>>{}(b));
    weft::promise<int> other;
    EXPECT_FALSE(a == other.get_future());
    p.set_value(3);
    EXPECT_EQ(b.get(), 3);
    other.set_value(0);
}

TEST(Promise, SetValueFinishes) {
    weft::promise<std::string> p;
    const auto f = p.get_future();
    p.set_value("abc");
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.running());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.get(), "abc");
    EXPECT_EQ(f.result(), "abc");
    EXPECT_EQ(f.exception(), nullptr);
    EXPECT_EQ(f.wait_for(0s), std::future_status::ready);
}

TEST(Promise, SetValueOfVoidFinishes) {
    weft::promise<void> p;
    const auto f = p.get_future();
    p.set_value();
    EXPECT_TRUE(f.done());
    EXPECT_NO_THROW(f.get());
    EXPECT_EQ(f.exception(), nullptr);
}

TEST(Promise, SetExceptionStoresThatExceptionPtr) {
    weft::promise<int> p;
    const auto f = p.get_future();
    const auto e = std::make_exception_ptr(std::runtime_error{"boom"});
    p.set_exception(e);
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.exception(), e);
    EXPECT_EQ(caught_by_get(f).first, e);
}

TEST(Promise, SetExceptionRejectsNull) {
    weft::promise<int> p;
    EXPECT_THROW(p.set_exception(nullptr), std::invalid_argument);
    EXPECT_FALSE(p.get_future().done());
    p.set_value(0);
}

TEST(Promise, SecondSetterThrowsAndKeepsTheFirstResult) {
    weft::promise<int> p;
    const auto f = p.get_future();
    p.set_value(1);
    EXPECT_THROW(p.set_value(2), weft::invalid_state_error);
    EXPECT_THROW(p.set_exception(std::make_exception_ptr(std::runtime_error{"x"})), weft::invalid_state_error);
    EXPECT_EQ(f.get(), 1);

    weft::promise<void> q;
    q.set_exception(std::make_exception_ptr(std::runtime_error{"first"}));
    EXPECT_THROW(q.set_value(), weft::invalid_state_error);
    EXPECT_THROW(q.get_future().get(), std::runtime_error);
}

TEST(Promise, SettersOnACancelledFutureThrow) {
    weft::promise<int> p;
    const auto f = p.get_future();
    ASSERT_TRUE(f.cancel());
    EXPECT_THROW(p.set_value(1), weft::invalid_state_error);
    EXPECT_THROW(p.set_exception(std::make_exception_ptr(std::runtime_error{"x"})), weft::invalid_state_error);
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(f.get(), weft::cancelled_error);
}

TEST(Promise, SetRunningOrNotifyCancel) {
    weft::promise<int> p;
    const auto f = p.get_future();
    EXPECT_TRUE(p.set_running_or_notify_cancel());  // pending -> running
    EXPECT_TRUE(f.running());
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.cancel());  // running: too late
    EXPECT_FALSE(f.cancelled());
    try {
        (void)p.set_running_or_notify_cancel();  // running -> running is not allowed
        ADD_FAILURE() << "no exception";
    } catch (const weft::invalid_state_error& e) {
        EXPECT_STREQ(e.what(), "weft::promise::set_running_or_notify_cancel: Future in unexpected state");
    }
    p.set_value(4);
    EXPECT_FALSE(f.running());
    EXPECT_EQ(f.get(), 4);
    try {
        (void)p.set_running_or_notify_cancel();  // finished
        ADD_FAILURE() << "no exception";
    } catch (const weft::invalid_state_error& e) {
        EXPECT_STREQ(e.what(), "weft::promise::set_running_or_notify_cancel: Future in unexpected state");
    }
}

TEST(Promise, SetRunningOrNotifyCancelOnCancelledReturnsFalse) {
    weft::promise<int> p;
    const auto f = p.get_future();
    ASSERT_TRUE(f.cancel());
    EXPECT_FALSE(p.set_running_or_notify_cancel());
    EXPECT_TRUE(f.cancelled());
}

TEST(Promise, DestroyedUnsatisfiedStoresBrokenPromise) {
    weft::future<int> pending, running;
    {
        weft::promise<int> p;
        pending = p.get_future();
        weft::promise<int> q;
        running = q.get_future();
        ASSERT_TRUE(q.set_running_or_notify_cancel());
    }
    EXPECT_TRUE(pending.done());
    EXPECT_FALSE(pending.cancelled());
    EXPECT_THROW(pending.get(), weft::broken_promise);
    EXPECT_THROW(running.get(), weft::broken_promise);
    EXPECT_NE(pending.exception(), nullptr);
}

TEST(Promise, DestroyedAfterSettingOrCancellingLeavesTheResult) {
    weft::future<int> set, cancelled;
    {
        weft::promise<int> p;
        set = p.get_future();
        p.set_value(9);
        weft::promise<int> q;
        cancelled = q.get_future();
        ASSERT_TRUE(cancelled.cancel());
    }
    EXPECT_EQ(set.get(), 9);
    EXPECT_TRUE(cancelled.cancelled());
    EXPECT_THROW(cancelled.get(), weft::cancelled_error);
}

TEST(Promise, MoveAssignOverAnUnsatisfiedPromiseBreaksIt) {
    weft::promise<int> p;
    const auto old = p.get_future();
    weft::promise<int> q;
    const auto moved = q.get_future();
    p = std::move(q);
    EXPECT_THROW(old.get(), weft::broken_promise);
    EXPECT_FALSE(moved.done());
    p.set_value(5);
    EXPECT_EQ(moved.get(), 5);
    EXPECT_THROW((void)q.get_future(), weft::invalid_state_error);  // NOLINT(bugprone-use-after-move)
    EXPECT_THROW(q.set_value(1), weft::invalid_state_error);        // NOLINT(bugprone-use-after-move)
}

TEST(Promise, MoveAssignOverASatisfiedPromiseKeepsItsValue) {
    weft::promise<int> p;
    const auto old = p.get_future();
    p.set_value(1);
    weft::promise<int> q;
    p = std::move(q);
    EXPECT_EQ(old.get(), 1);
    p.set_value(2);
}

TEST(Promise, MoveConstructedKeepsTheState) {
    weft::promise<int> p;
    const auto f = p.get_future();
    weft::promise<int> q{std::move(p)};
    EXPECT_FALSE(f.done());  // moving did not break it
    q.set_value(8);
    EXPECT_EQ(f.get(), 8);
}

TEST(Future, GetIsRepeatableAndReturnsTheSameObject) {
    weft::promise<std::vector<int>> p;
    const auto f = p.get_future();
    p.set_value(std::vector<int>{1, 2, 3});
    const std::vector<int>& a = f.get();
    const std::vector<int>& b = f.get();
    EXPECT_EQ(&a, &b);
    EXPECT_EQ(a, (std::vector<int>{1, 2, 3}));
    const auto copy = f;  // NOLINT(performance-unnecessary-copy-initialization): a second handle
    EXPECT_EQ(&copy.get(), &a);
}

TEST(Future, GetRethrowsTheSameExceptionEveryTime) {
    weft::promise<int> p;
    const auto f = p.get_future();
    p.set_exception(std::make_exception_ptr(std::runtime_error{"same"}));
    const auto first = caught_by_get(f);
    const auto second = caught_by_get(f);
    ASSERT_NE(first.first, nullptr);
    EXPECT_EQ(first.first, second.first);
    EXPECT_EQ(first.first, f.exception());
    ASSERT_NE(first.second, nullptr);
    EXPECT_EQ(first.second, second.second) << "a different exception object";
}

TEST(Future, ExceptionIsNullStoredOrCancelledError) {
    weft::promise<int> ok;
    ok.set_value(1);
    EXPECT_EQ(ok.get_future().exception(), nullptr);
    EXPECT_EQ(ok.get_future().exception(1s), nullptr);

    weft::promise<int> failed;
    const auto e = std::make_exception_ptr(std::logic_error{"stored"});
    failed.set_exception(e);
    EXPECT_EQ(failed.get_future().exception(), e);
    EXPECT_EQ(failed.get_future().exception(0s), e);

    weft::promise<int> cancelled;
    ASSERT_TRUE(cancelled.get_future().cancel());
    EXPECT_THROW((void)cancelled.get_future().exception(), weft::cancelled_error);
    EXPECT_THROW((void)cancelled.get_future().exception(1s), weft::cancelled_error);
}

TEST(Future, CancelWhilePendingAndWhenAlreadyCancelled) {
    weft::promise<int> p;
    const auto f = p.get_future();
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.running());
    EXPECT_TRUE(f.cancel());  // already cancelled: still true
    EXPECT_THROW(f.get(), weft::cancelled_error);
    EXPECT_THROW(f.result(), weft::cancelled_error);
    EXPECT_EQ(f.wait_for(0s), std::future_status::ready);
}

TEST(Future, CancelWhenRunningOrFinishedReturnsFalse) {
    weft::promise<int> running;
    ASSERT_TRUE(running.set_running_or_notify_cancel());
    EXPECT_FALSE(running.get_future().cancel());
    EXPECT_FALSE(running.get_future().cancelled());
    running.set_value(1);

    weft::promise<int> finished;
    finished.set_value(1);
    EXPECT_FALSE(finished.get_future().cancel());
    EXPECT_FALSE(finished.get_future().cancelled());
    EXPECT_EQ(finished.get_future().get(), 1);

    weft::promise<int> failed;
    failed.set_exception(std::make_exception_ptr(std::runtime_error{"x"}));
    EXPECT_FALSE(failed.get_future().cancel());
    EXPECT_THROW(failed.get_future().get(), std::runtime_error);
}

TEST(Future, CancelWakesAWaiterBlockedOnAnotherThread) {
    weft::promise<int> p;
    const auto f = p.get_future();
    signal started;
    std::atomic<bool> got_cancelled{false};
    std::thread waiter{[&] {
        started.raise();
        try {
            f.get();
        } catch (const weft::cancelled_error&) {
            got_cancelled = true;
        }
    }};
    ASSERT_TRUE(started.wait());
    EXPECT_TRUE(f.cancel());
    waiter.join();
    EXPECT_TRUE(got_cancelled.load());
}

TEST(Future, ResultWithTimeoutThrowsTimeoutError) {
    weft::promise<int> p;
    const auto f = p.get_future();
    EXPECT_THROW(f.result(0s), weft::timeout_error);
    EXPECT_THROW(f.result(1ms), weft::timeout_error);
    EXPECT_THROW((void)f.exception(1ms), weft::timeout_error);
    p.set_value(2);
    EXPECT_EQ(f.result(0s), 2);
    EXPECT_EQ(f.result(1h), 2);
}

TEST(Future, WaitForZeroNegativeAndTinyTimeoutsOnAPendingFuture) {
    weft::promise<int> p;
    const auto f = p.get_future();
    EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);
    EXPECT_EQ(f.wait_for(-1s), std::future_status::timeout);
    EXPECT_EQ(f.wait_for(std::chrono::hours::min()), std::future_status::timeout);
    EXPECT_EQ(f.wait_for(std::chrono::nanoseconds::min()), std::future_status::timeout);
    EXPECT_EQ(f.wait_for(1ns), std::future_status::timeout);
    EXPECT_EQ(f.wait_for(1us), std::future_status::timeout);
    EXPECT_EQ(f.wait_for(std::chrono::duration<double, std::nano>{0.25}), std::future_status::timeout);
    EXPECT_EQ(f.wait_for(2ms), std::future_status::timeout);
    p.set_value(0);
}

TEST(Future, WaitForMaxDurationsOnADoneFutureIsReady) {
    weft::promise<int> p;
    const auto f = p.get_future();
    p.set_value(1);
    EXPECT_EQ(f.wait_for(std::chrono::hours::max()), std::future_status::ready);
    EXPECT_EQ(f.wait_for(std::chrono::nanoseconds::max()), std::future_status::ready);
    EXPECT_EQ(f.wait_for(std::chrono::duration<double>::max()), std::future_status::ready);
}

/// Completes `p` from another thread once the caller has started waiting.
template <class Wait>
std::future_status wait_completed_by_other_thread(Wait&& wait) {
    weft::promise<int> p;
    const auto f = p.get_future();
    signal waiting;
    std::thread setter{[&] {
        EXPECT_TRUE(waiting.wait());
        p.set_value(1);
    }};
    waiting.raise();
    const std::future_status s = wait(f);
    setter.join();
    return s;
}

TEST(Future, WaitForMaxDurationsWaitsUntilDone) {
    EXPECT_EQ(wait_completed_by_other_thread([](const auto& f) { return f.wait_for(std::chrono::hours::max()); }),
              std::future_status::ready);
    EXPECT_EQ(wait_completed_by_other_thread([](const auto& f) { return f.wait_for(std::chrono::nanoseconds::max()); }),
              std::future_status::ready);
    EXPECT_EQ(wait_completed_by_other_thread([](const auto& f) { return f.wait_for(1h); }),
              std::future_status::ready);
}

TEST(Future, WaitUntilInThePastTimesOut) {
    weft::promise<int> p;
    const auto f = p.get_future();
    EXPECT_EQ(f.wait_until(std::chrono::steady_clock::now() - 1s), std::future_status::timeout);
    EXPECT_EQ(f.wait_until(std::chrono::steady_clock::now()), std::future_status::timeout);
    EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() - 1h), std::future_status::timeout);
    EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() + 1ms), std::future_status::timeout);
    p.set_value(1);
    EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() - 1h), std::future_status::ready);
}

TEST(Future, WaitUntilOnSystemClockAndTheFarFutureWaitsUntilDone) {
    EXPECT_EQ(wait_completed_by_other_thread(
                  [](const auto& f) { return f.wait_until(std::chrono::system_clock::now() + 1h); }),
              std::future_status::ready);
    EXPECT_EQ(wait_completed_by_other_thread(
                  [](const auto& f) { return f.wait_until(std::chrono::steady_clock::time_point::max()); }),
              std::future_status::ready);
    EXPECT_EQ(wait_completed_by_other_thread(
                  [](const auto& f) { return f.wait_until(std::chrono::system_clock::time_point::max()); }),
              std::future_status::ready);
}

// The earliest representable deadline is in the past too. If the wait misreads it as a
// far future (deadline - now overflowing), the guard completes the future after a
// bound and the wait reports ready instead of timeout.
// Regression: wait_until once computed `deadline - Clock::now()` first, a signed overflow
// for time_point::min() (with clang it wrapped to a huge timeout).
TEST(Future, WaitUntilTheEarliestTimePointTimesOut) {
    for (int clock = 0; clock < 2; ++clock) {
        weft::promise<int> p;
        const auto f = p.get_future();
        signal returned;
        std::thread guard{[&] {
            (void)returned.wait(2s);
            p.set_value(1);
        }};
        const std::future_status s = clock == 0 ? f.wait_until(std::chrono::steady_clock::time_point::min())
                                                : f.wait_until(std::chrono::system_clock::time_point::min());
        returned.raise();
        guard.join();
        EXPECT_EQ(s, std::future_status::timeout) << (clock == 0 ? "steady_clock" : "system_clock");
    }
}

// ---- add_done_callback without an executor ------------------------------------------

TEST(DoneCallback, RunInTheOrderAddedOnTheCompletingThread) {
    weft::promise<int> p;
    const auto f = p.get_future();
    std::vector<int> order;
    std::vector<std::thread::id> threads;
    for (int i = 0; i < 5; ++i)
        f.add_done_callback([&, i](const weft::future<int>& g) {
            EXPECT_TRUE(g == f);
            EXPECT_EQ(g.get(), 7);
            order.push_back(i);
            threads.push_back(std::this_thread::get_id());
        });
    EXPECT_TRUE(order.empty());
    std::thread completer{[&] { p.set_value(7); }};
    const std::thread::id completer_id = completer.get_id();
    completer.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
    for (const auto& id : threads) EXPECT_EQ(id, completer_id);
}

TEST(DoneCallback, AddedWhenDoneRunsAtOnceInTheCaller) {
    weft::promise<int> p;
    p.set_value(1);
    bool ran = false;
    std::thread::id where;
    p.get_future().add_done_callback([&](const weft::future<int>&) {
        ran = true;
        where = std::this_thread::get_id();
    });
    EXPECT_TRUE(ran);
    EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(DoneCallback, RunOnTheCancellingThreadWithTheCancelledFuture) {
    weft::promise<int> p;
    const auto f = p.get_future();
    bool saw_cancelled = false;
    f.add_done_callback([&](const weft::future<int>& g) { saw_cancelled = g.cancelled(); });
    ASSERT_TRUE(f.cancel());
    EXPECT_TRUE(saw_cancelled);
}

TEST(DoneCallback, AddedFromInsideACallbackRunsAtOnce) {
    weft::promise<int> p;
    const auto f = p.get_future();
    std::vector<int> order;
    f.add_done_callback([&](const weft::future<int>& g) {
        order.push_back(1);
        g.add_done_callback([&](const weft::future<int>&) { order.push_back(2); });
        order.push_back(3);
    });
    f.add_done_callback([&](const weft::future<int>&) { order.push_back(4); });
    p.set_value(0);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST(DoneCallback, ThrowingCallbackIsReportedAndLaterOnesStillRun) {
    std::atomic<int> reported{0};
    std::string where;
    std::string what;
    weft::executor_options options{.workers = 1};
    options.unhandled_exception_handler = [&](std::exception_ptr e, std::string_view w) {
        reported.fetch_add(1);
        where = std::string{w};
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            what = ex.what();
        }
    };
    weft::executor ex{options};
    weft::promise<int> p{ex};
    const auto f = p.get_future();
    std::vector<int> order;
    f.add_done_callback([&](const weft::future<int>&) { order.push_back(1); });
    f.add_done_callback([](const weft::future<int>&) { throw std::runtime_error{"callback failed"}; });
    f.add_done_callback([&](const weft::future<int>&) { order.push_back(3); });
    p.set_value(1);  // the callbacks run here, on this thread
    EXPECT_EQ(order, (std::vector<int>{1, 3}));
    EXPECT_EQ(reported.load(), 1);
    EXPECT_EQ(where, "(done-callback)");
    EXPECT_EQ(what, "callback failed");
    EXPECT_EQ(f.get(), 1);  // the future itself is unaffected
}

TEST(DoneCallback, ThrowingCallbackWithoutAnExecutorGoesToStderr) {
    weft::promise<int> p;
    const auto f = p.get_future();
    bool later_ran = false;
    f.add_done_callback([](const weft::future<int>&) { throw std::runtime_error{"no executor here"}; });
    f.add_done_callback([&](const weft::future<int>&) { later_ran = true; });
    ::testing::internal::CaptureStderr();
    p.set_value(1);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(later_ran);
    EXPECT_NE(err.find("no executor here"), std::string::npos) << err;
}

TEST(DoneCallback, EmptyCallableIsRejected) {
    weft::promise<int> p;
    std::function<void(const weft::future<int>&)> empty;
    EXPECT_THROW(p.get_future().add_done_callback(empty), std::invalid_argument);
    void (*null_fn)(const weft::future<int>&) = nullptr;
    EXPECT_THROW(p.get_future().add_done_callback(null_fn), std::invalid_argument);
    p.set_value(0);
}

// A thread blocked in get() is woken before the callbacks run: the callback blocks until
// the waiter has returned, which would deadlock (and time out here) otherwise.
TEST(DoneCallback, WaitersAreWokenBeforeCallbacksRun) {
    weft::promise<int> p;
    const auto f = p.get_future();
    signal waiter_started;
    signal waiter_returned;
    bool callback_saw_waiter = false;
    f.add_done_callback([&](const weft::future<int>&) { callback_saw_waiter = waiter_returned.wait(); });
    std::thread waiter{[&] {
        waiter_started.raise();
        EXPECT_EQ(f.get(), 5);
        waiter_returned.raise();
    }};
    ASSERT_TRUE(waiter_started.wait());
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();  // let it reach the futex
    p.set_value(5);
    waiter.join();
    EXPECT_TRUE(callback_saw_waiter);
}

// ---- continuations without an executor -----------------------------------------------

TEST(Then, OnAPromiseWithoutExecutorRunsOnTheOutsideCompletingThread) {
    weft::promise<int> p;
    std::thread::id ran_on;
    const auto g = p.get_future().then([&](int v) {
        ran_on = std::this_thread::get_id();
        EXPECT_EQ(weft::this_worker::executor(), nullptr);
        return v + 1;
    });
    std::thread completer{[&] { p.set_value(1); }};
    const std::thread::id completer_id = completer.get_id();
    completer.join();
    EXPECT_EQ(g.get(), 2);
    EXPECT_EQ(ran_on, completer_id);
}

TEST(Then, InlineRunsOnTheCompletingThread) {
    weft::promise<int> p;
    std::thread::id ran_on;
    const auto g = p.get_future().then_inline([&](int v) {
        ran_on = std::this_thread::get_id();
        return v * 3;
    });
    std::thread completer{[&] { p.set_value(2); }};
    const std::thread::id completer_id = completer.get_id();
    completer.join();
    EXPECT_EQ(g.get(), 6);
    EXPECT_EQ(ran_on, completer_id);
}

/// How deep below a base frame the continuations of a chain ran on one thread: the
/// completing thread sets the base, every continuation that runs there records its depth.
class stack_probe {
public:
    /// On the completing thread, just before it completes the chain's root.
    void set_base() {
        m_owner.store(std::this_thread::get_id());
        m_base.store(reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)));
    }
    void touch() {
        if (std::this_thread::get_id() != m_owner.load()) return;
        const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
        const std::uintptr_t base = m_base.load();
        if (here < base && base - here > m_deepest.load()) m_deepest.store(base - here);
    }
    std::size_t deepest_bytes() const { return m_deepest.load(); }

private:
    std::atomic<std::thread::id> m_owner{};
    std::atomic<std::uintptr_t> m_base{0};
    std::atomic<std::size_t> m_deepest{0};
};

/// A chain of `length` continuations (then_inline, or then) on `root`, each adding one.
template <bool Inline>
weft::future<int> plus_one_chain(weft::future<int> root, int length, stack_probe& probe) {
    for (int i = 0; i < length; ++i) {
        auto step = [&probe](int v) {
            probe.touch();
            return v + 1;
        };
        if constexpr (Inline)
            root = root.then_inline(step);
        else
            root = root.then(step);
    }
    return root;
}

/// Far more than k_max_inline_depth (64) nested continuations need (~12 KiB in a release
/// build, ~60 KiB under ASan), far less than k_unbounded_links nested ones (~570 KiB).
constexpr std::size_t k_bounded_stack_bytes = 256 * 1024;
/// Enough links to exceed that bound if they nested (~190 bytes each in a release build),
/// few enough not to overflow an 8 MiB stack under ASan if they did (so the rest of this
/// binary still runs).
constexpr int k_unbounded_links = 3'000;

// Regression: with neither an executor nor a worker, continuations past
// k_max_inline_depth once ran nested without bound (a stack overflow for 10 000 links
// under ASan). They now wait in the thread's trampoline (detail::run_inline).
TEST(Then, LongInlineChainOnAPromiseWithoutExecutorHasBoundedStackDepth) {
    weft::promise<int> p;
    stack_probe probe;
    const auto tail = plus_one_chain<true>(p.get_future(), k_unbounded_links, probe);
    std::thread completer{[&] {
        probe.set_base();
        p.set_value(0);
    }};
    completer.join();
    EXPECT_EQ(tail.get(), k_unbounded_links);
    EXPECT_LT(probe.deepest_bytes(), k_bounded_stack_bytes) << "continuations nested without bound";
}

// The same for then(): with no executor it runs on the completing thread, depth-bounded.
TEST(Then, LongChainOnAPromiseWithoutExecutorHasBoundedStackDepth) {
    weft::promise<int> p;
    stack_probe probe;
    const auto tail = plus_one_chain<false>(p.get_future(), k_unbounded_links, probe);
    std::thread completer{[&] {
        probe.set_base();
        p.set_value(0);
    }};
    completer.join();
    EXPECT_EQ(tail.get(), k_unbounded_links);
    EXPECT_LT(probe.deepest_bytes(), k_bounded_stack_bytes) << "continuations nested without bound";
}

// The same with an executor: then_inline runs on the completing thread either way, and
// its stack stays shallow.
TEST(Then, LongInlineChainOnAPromiseWithExecutorHasBoundedStackDepth) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    weft::promise<int> p{ex};
    stack_probe probe;
    const auto tail = plus_one_chain<true>(p.get_future(), 10'000, probe);
    std::thread completer{[&] {
        probe.set_base();
        p.set_value(0);
    }};
    completer.join();
    EXPECT_EQ(tail.get(), 10'000);
    EXPECT_LT(probe.deepest_bytes(), k_bounded_stack_bytes);
    EXPECT_GT(probe.deepest_bytes(), 0U);  // the first links did run inline, on the completer
}

// Regression (issue 12): a then_inline link ran nested inside the completion of the link
// before it, so that link's cleanup (its callable's captures, its input) waited until up
// to 63 later links had run, and a then_inline chain cost 1.3-1.6x a then() chain per
// link. A link that runs inline now starts the next one only after it has returned.
TEST(Then, InlineChainRunsEachLinkAfterThePreviousOneReturned) {
    weft::promise<int> p;
    auto guard = std::make_shared<int>(0);
    const std::weak_ptr<int> watch = guard;
    bool previous_gone = false;
    const auto first = p.get_future().then_inline([guard = std::move(guard)](int v) { return v + *guard + 1; });
    const auto second = first.then_inline([&](int v) {
        previous_gone = watch.expired();  // the first link's captures are already destroyed
        return v + 1;
    });
    p.set_value(0);
    EXPECT_EQ(second.get(), 2);
    EXPECT_TRUE(previous_gone) << "the second link ran nested inside the first one";
}

// That deferral is for the continuations of the inline link itself: a done-callback on
// it is user code, and the then_inline continuations of a promise it sets run at once.
TEST(Then, DoneCallbackOfAnInlineLinkSeesItsOwnInlineContinuationsRunAtOnce) {
    weft::promise<int> p;
    weft::promise<int> q;
    bool ran = false;
    bool ran_inside_set_value = false;
    const auto after_q = q.get_future().then_inline([&](int v) {
        ran = true;
        return v;
    });
    const auto link = p.get_future().then_inline([](int v) { return v; });
    link.add_done_callback([&](const weft::future<int>&) {
        q.set_value(1);
        ran_inside_set_value = ran;
    });
    p.set_value(0);
    EXPECT_TRUE(ran_inside_set_value);
    EXPECT_EQ(after_q.get(), 1);
}

// Only the last continuation of an inline link's state waits for the link to return: the
// others, then_inline ones too, still run in the order added, before it.
TEST(Then, ContinuationsOfAnInlineLinkRunInTheOrderAdded) {
    weft::promise<int> p;
    std::vector<int> order;
    const auto link = p.get_future().then_inline([](int v) { return v; });
    const auto first = link.then_inline([&](int v) {
        order.push_back(1);
        return v;
    });
    link.add_done_callback([&](const weft::future<int>&) { order.push_back(2); });
    const auto last = link.then_inline([&](int v) {
        order.push_back(3);
        return v;
    });
    p.set_value(0);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(first.get() + last.get(), 0);
}

TEST(Then, AttachedAfterCompletionRunsAtOnceWithoutExecutor) {
    weft::promise<int> p;
    p.set_value(4);
    bool ran = false;
    const auto g = p.get_future().then([&](int v) {
        ran = true;
        return v;
    });
    EXPECT_TRUE(ran);  // no executor and no worker: on this thread, before then() returns
    EXPECT_EQ(g.get(), 4);
}

TEST(Then, EmptyCallableIsRejected) {
    weft::promise<int> p;
    std::function<int(int)> empty;
    EXPECT_THROW((void)p.get_future().then(empty), std::invalid_argument);
    EXPECT_THROW((void)p.get_future().then_inline(empty), std::invalid_argument);
    p.set_value(0);
}

TEST(Then, CancellingTheContinuationsFutureSkipsIt) {
    weft::promise<int> p;
    bool ran = false;
    const auto g = p.get_future().then([&](int) { ran = true; });
    EXPECT_TRUE(g.cancel());
    p.set_value(1);
    EXPECT_FALSE(ran);
    EXPECT_TRUE(g.cancelled());
    EXPECT_THROW(g.get(), weft::cancelled_error);
}

TEST(MakeFuture, ReadyAndExceptionalFutures) {
    const auto a = weft::make_ready_future(std::string{"x"});
    static_assert(std::is_same_v<decltype(a), const weft::future<std::string>>);
    EXPECT_TRUE(a.done());
    EXPECT_EQ(a.get(), "x");
    const auto v = weft::make_ready_future();
    EXPECT_TRUE(v.done());
    EXPECT_NO_THROW(v.get());
    const auto e = std::make_exception_ptr(std::out_of_range{"oor"});
    const auto b = weft::make_exceptional_future<int>(e);
    EXPECT_EQ(b.exception(), e);
    EXPECT_THROW((void)weft::make_exceptional_future<int>(nullptr), std::invalid_argument);
}

}  // namespace
