// weft::async and the continuations of futures completed on an executor's workers:
// arguments and results, errors, where then/then_inline/continue_with run, unwrapping,
// propagation of exceptions and cancellation, helping waits. Parameterised over worker
// counts {1, 2, 4}.
#include <weft/future.hpp>
#include <weft/this_worker.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

class FutureOnExecutor : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

/// The exception_ptr that `f.get()` throws (null, and a failure, if it returns).
template <class T>
std::exception_ptr thrown_by_get(const weft::future<T>& f) {
    try {
        f.get();
    } catch (...) {
        return std::current_exception();
    }
    ADD_FAILURE() << "get() returned instead of throwing";
    return nullptr;
}

/// Throws an exception from inside a task and records the exception_ptr it throws.
[[noreturn]] void throw_recorded(std::exception_ptr& record) {
    try {
        throw std::runtime_error{"recorded"};
    } catch (...) {
        record = std::current_exception();
        throw;
    }
}

// ---- async --------------------------------------------------------------------------

TEST_P(FutureOnExecutor, AsyncReturnsTheValue) {
    const auto f = weft::async(m_ex, [] { return 42; });
    static_assert(std::is_same_v<decltype(f), const weft::future<int>>);
    EXPECT_EQ(f.get(), 42);
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.running());
    EXPECT_FALSE(f.cancel());
    const auto v = weft::async(m_ex, [] {});
    static_assert(std::is_same_v<decltype(v), const weft::future<void>>);
    EXPECT_NO_THROW(v.get());
}

TEST_P(FutureOnExecutor, AsyncRunsOnAWorkerOfTheExecutor) {
    const auto f = weft::async(m_ex, [] { return weft::this_worker::executor(); });
    EXPECT_EQ(f.get(), &m_ex);
}

TEST_P(FutureOnExecutor, AsyncWithMoveOnlyResult) {
    const auto f = weft::async(m_ex, [] { return std::make_unique<int>(7); });
    ASSERT_NE(f.get(), nullptr);
    EXPECT_EQ(*f.get(), 7);
}

TEST_P(FutureOnExecutor, AsyncWithMoveOnlyArgumentsAndCallable) {
    const auto f = weft::async(m_ex, [](std::unique_ptr<int> p, std::unique_ptr<int> q) { return *p + *q; },
                               std::make_unique<int>(40), std::make_unique<int>(2));
    EXPECT_EQ(f.get(), 42);
    auto owned = std::make_unique<int>(5);
    const auto g = weft::async(m_ex, [p = std::move(owned)]() mutable { return *p; });
    EXPECT_EQ(g.get(), 5);
}

TEST_P(FutureOnExecutor, AsyncArgumentsAreDecayedCopiesMadeAtTheCall) {
    weft::promise<void> gate;
    const weft::future<void> open = gate.get_future();
    int x = 1;
    std::string s = "abc";
    const std::string* original = &s;
    const auto f = weft::async(
        m_ex,
        [open](const int& v, const std::string& str, const char* literal) {
            open.wait();
            return std::to_string(v) + str + literal;
        },
        x, s, "!");
    const auto same_object = weft::async(m_ex, [original](const std::string& str) { return &str == original; }, s);
    x = 2;
    s = "changed";
    gate.set_value();
    EXPECT_EQ(f.get(), "1abc!");
    EXPECT_FALSE(same_object.get());
}

TEST_P(FutureOnExecutor, AsyncStoresTheTasksException) {
    std::exception_ptr thrown;
    const auto f = weft::async(m_ex, [&thrown]() -> int { throw_recorded(thrown); });
    const std::exception_ptr got = thrown_by_get(f);
    ASSERT_NE(thrown, nullptr);
    EXPECT_EQ(got, thrown);
    EXPECT_EQ(f.exception(), thrown);
    EXPECT_EQ(thrown_by_get(f), thrown);
}

TEST_P(FutureOnExecutor, AsyncRejectsEmptyCallables) {
    int (*null_fn)() = nullptr;
    EXPECT_THROW((void)weft::async(m_ex, null_fn), std::invalid_argument);
    std::function<int()> empty;
    EXPECT_THROW((void)weft::async(m_ex, empty), std::invalid_argument);
    std::function<int(int)> empty_with_arg;
    EXPECT_THROW((void)weft::async(m_ex, empty_with_arg, 1), std::invalid_argument);
    EXPECT_EQ(weft::async(m_ex, [] { return 1; }).get(), 1);  // still usable
}

TEST_P(FutureOnExecutor, AsyncAfterShutdownThrows) {
    m_ex.shutdown();
    EXPECT_THROW((void)weft::async(m_ex, [] { return 1; }), weft::executor_shutdown_error);
}

TEST_P(FutureOnExecutor, CancelledAsyncNeverRunsItsBody) {
    // Occupy every worker until the futures below are cancelled, so none has started.
    // The blockers spin: a waiting get() would help, and so run the tasks below.
    std::atomic<bool> go{false};
    std::atomic<std::size_t> busy{0};
    std::vector<weft::future<void>> blockers;
    for (std::size_t i = 0; i < GetParam(); ++i)
        blockers.push_back(weft::async(m_ex, [&] {
            busy.fetch_add(1);
            while (!go.load()) std::this_thread::yield();
        }));
    while (busy.load() < GetParam()) std::this_thread::yield();
    std::atomic<int> ran{0};
    std::vector<weft::future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(weft::async(m_ex, [&ran] { return ran.fetch_add(1); }));
    int cancelled = 0;
    for (const auto& f : fs) cancelled += f.cancel() ? 1 : 0;
    go = true;
    for (const auto& b : blockers) b.get();
    for (const auto& f : fs) {
        if (f.cancelled()) {
            EXPECT_THROW(f.get(), weft::cancelled_error);
        } else {
            EXPECT_NO_THROW(f.get());
        }
    }
    m_ex.shutdown();  // every queued task, cancelled or not, has been taken off the queue
    EXPECT_EQ(ran.load(), 20 - cancelled);
    EXPECT_EQ(cancelled, 20);  // every worker was busy: none of them had started
}

TEST_P(FutureOnExecutor, GetOnAWorkerHelpsRunTheAwaitedTask) {
    const auto f = weft::async(m_ex, [this] {
        const auto child = weft::async(m_ex, [] { return 20; });
        return child.get() + 1;
    });
    EXPECT_EQ(f.get(), 21);
}

TEST_P(FutureOnExecutor, CancelWakesAWaiterBlockedOnAWorker) {
    weft::promise<int> p;
    const auto f = p.get_future();
    std::atomic<bool> started{false};
    const auto waiter = weft::async(m_ex, [&] {
        started = true;
        try {
            f.get();
        } catch (const weft::cancelled_error&) {
            return true;
        }
        return false;
    });
    while (!started.load()) std::this_thread::yield();
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(waiter.get());
}

TEST_P(FutureOnExecutor, WaitForOnAWorkerTimesOutAndSeesCompletion) {
    weft::promise<int> p;
    const auto f = p.get_future();
    const auto timed_out = weft::async(m_ex, [f] { return f.wait_for(2ms) == std::future_status::timeout; });
    EXPECT_TRUE(timed_out.get());
    const auto zero = weft::async(m_ex, [f] { return f.wait_for(0s) == std::future_status::timeout; });
    EXPECT_TRUE(zero.get());
    p.set_value(1);
    const auto ready = weft::async(m_ex, [f] { return f.wait_for(std::chrono::hours::max()); });
    EXPECT_EQ(ready.get(), std::future_status::ready);
}

// ---- then ---------------------------------------------------------------------------

TEST_P(FutureOnExecutor, ThenMapsTheValueOnTheCompletingExecutor) {
    const auto f = weft::async(m_ex, [] { return 20; }).then([this](int v) {
        EXPECT_EQ(weft::this_worker::executor(), &m_ex);
        return v * 2;
    });
    static_assert(std::is_same_v<decltype(f), const weft::future<int>>);
    EXPECT_EQ(f.get(), 40);
}

TEST_P(FutureOnExecutor, ThenFromVoidAndToVoid) {
    const auto from_void = weft::async(m_ex, [] {}).then([] { return std::string{"v"}; });
    static_assert(std::is_same_v<decltype(from_void), const weft::future<std::string>>);
    EXPECT_EQ(from_void.get(), "v");
    std::atomic<int> seen{0};
    const auto to_void = weft::async(m_ex, [] { return 9; }).then([&](int v) { seen = v; });
    static_assert(std::is_same_v<decltype(to_void), const weft::future<void>>);
    to_void.get();
    EXPECT_EQ(seen.load(), 9);
}

TEST_P(FutureOnExecutor, ThenUnwrapsAReturnedFuture) {
    const auto f = weft::async(m_ex, [] { return 3; }).then([this](int v) {
        return weft::async(m_ex, [v] { return v + 4; });
    });
    static_assert(std::is_same_v<decltype(f), const weft::future<int>>);
    EXPECT_EQ(f.get(), 7);
    const auto v = weft::make_ready_future().then([this] { return weft::async(m_ex, [] {}); });
    static_assert(std::is_same_v<decltype(v), const weft::future<void>>);
    EXPECT_NO_THROW(v.get());
    const auto move_only = weft::make_ready_future(1).then(
        [this](int) { return weft::async(m_ex, [] { return std::make_unique<int>(11); }); });
    EXPECT_EQ(*move_only.get(), 11);
}

TEST_P(FutureOnExecutor, ThenUnwrapsAnInnerFutureThatFails) {
    std::exception_ptr thrown;
    const auto f = weft::async(m_ex, [] { return 1; }).then([&](int) {
        return weft::async(m_ex, [&thrown]() -> int { throw_recorded(thrown); });
    });
    const std::exception_ptr got = thrown_by_get(f);
    ASSERT_NE(thrown, nullptr);
    EXPECT_EQ(got, thrown);
}

TEST_P(FutureOnExecutor, ThenUnwrapsAnInnerFutureThatIsCancelled) {
    weft::promise<int> inner;
    const auto f = weft::async(m_ex, [] { return 1; }).then([&inner](int) { return inner.get_future(); });
    EXPECT_EQ(f.wait_for(1ms), std::future_status::timeout);  // waits for the inner future
    ASSERT_TRUE(inner.get_future().cancel());
    EXPECT_THROW(f.get(), weft::cancelled_error);
    EXPECT_TRUE(f.cancelled());
}

TEST_P(FutureOnExecutor, ThenReturningAnEmptyFutureFails) {
    const auto f = weft::async(m_ex, [] { return 1; }).then([](int) { return weft::future<int>{}; });
    EXPECT_THROW(f.get(), weft::invalid_state_error);
    EXPECT_FALSE(f.cancelled());
}

TEST_P(FutureOnExecutor, ThenPropagatesAnExceptionWithoutCallingF) {
    std::exception_ptr thrown;
    std::atomic<bool> called{false};
    const auto f = weft::async(m_ex, [&thrown]() -> int { throw_recorded(thrown); }).then([&](int v) {
        called = true;
        return v;
    });
    const auto g = f.then([&](int v) {  // two steps downstream: still the same exception
        called = true;
        return v;
    });
    EXPECT_EQ(thrown_by_get(g), thrown);
    EXPECT_EQ(thrown_by_get(f), thrown);
    EXPECT_FALSE(called.load());
}

TEST_P(FutureOnExecutor, ThenExceptionFromFIsStored) {
    std::exception_ptr thrown;
    const auto f = weft::async(m_ex, [] { return 1; }).then([&thrown](int) -> int { throw_recorded(thrown); });
    EXPECT_EQ(thrown_by_get(f), thrown);
    EXPECT_FALSE(f.cancelled());
}

TEST_P(FutureOnExecutor, ThenPropagatesCancellationWithoutCallingF) {
    weft::promise<int> p{m_ex};
    std::atomic<bool> called{false};
    const auto f = p.get_future().then([&](int v) {
        called = true;
        return v;
    });
    const auto g = f.then([&](int v) {
        called = true;
        return v;
    });
    ASSERT_TRUE(p.get_future().cancel());
    EXPECT_THROW(g.get(), weft::cancelled_error);
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(g.cancelled());
    EXPECT_FALSE(called.load());
}

TEST_P(FutureOnExecutor, ContinueWithSeesErrorsAndCancellation) {
    std::exception_ptr thrown;
    const auto failed = weft::async(m_ex, [&thrown]() -> int { throw_recorded(thrown); });
    const auto saw_error =
        failed.continue_with([&](const weft::future<int>& in) { return in.exception() == thrown && in.done(); });
    EXPECT_TRUE(saw_error.get());

    weft::promise<int> p{m_ex};
    const auto saw_cancel = p.get_future().continue_with([](const weft::future<int>& in) { return in.cancelled(); });
    ASSERT_TRUE(p.get_future().cancel());
    EXPECT_TRUE(saw_cancel.get());
    EXPECT_FALSE(saw_cancel.cancelled());

    const auto saw_value = weft::async(m_ex, [] { return 5; }).continue_with([](const weft::future<int>& in) {
        return in.get() + 1;
    });
    EXPECT_EQ(saw_value.get(), 6);
}

TEST_P(FutureOnExecutor, ThenOnAGivenExecutorRunsOnItsWorker) {
    weft::executor other{weft::executor_options{.workers = 1}};
    const auto on_other = weft::async(m_ex, [] { return 1; }).then(other, [](int) {
        return weft::this_worker::executor();
    });
    EXPECT_EQ(on_other.get(), &other);
    weft::promise<int> p;  // no executor, completed from outside
    const auto from_promise = p.get_future().then(other, [](int) { return weft::this_worker::executor(); });
    const auto continued = p.get_future().continue_with(other, [](const weft::future<int>&) {
        return weft::this_worker::executor();
    });
    p.set_value(0);
    EXPECT_EQ(from_promise.get(), &other);
    EXPECT_EQ(continued.get(), &other);
}

TEST_P(FutureOnExecutor, ThenOnAShutDownExecutorFailsTheContinuation) {
    weft::executor other{weft::executor_options{.workers = 1}};
    other.shutdown();
    weft::promise<int> p;
    bool called = false;
    const auto f = p.get_future().then(other, [&](int) { called = true; });
    p.set_value(1);
    EXPECT_THROW(f.get(), weft::executor_shutdown_error);
    EXPECT_FALSE(called);
}

TEST_P(FutureOnExecutor, ThenAttachedBeforeAndAfterCompletionEachRunOnce) {
    weft::promise<int> p{m_ex};
    std::atomic<int> before{0}, after{0}, inline_before{0}, inline_after{0}, callbacks{0};
    const auto b = p.get_future().then([&](int v) { return before.fetch_add(1) + v; });
    const auto ib = p.get_future().then_inline([&](int v) { return inline_before.fetch_add(1) + v; });
    p.get_future().add_done_callback([&](const weft::future<int>&) { callbacks.fetch_add(1); });
    p.set_value(10);
    const auto a = p.get_future().then([&](int v) { return after.fetch_add(1) + v; });
    const auto ia = p.get_future().then_inline([&](int v) { return inline_after.fetch_add(1) + v; });
    p.get_future().add_done_callback([&](const weft::future<int>&) { callbacks.fetch_add(1); });
    EXPECT_EQ(b.get(), 10);
    EXPECT_EQ(a.get(), 10);
    EXPECT_EQ(ib.get(), 10);
    EXPECT_EQ(ia.get(), 10);
    m_ex.shutdown();  // nothing could run a second time after this
    EXPECT_EQ(before.load(), 1);
    EXPECT_EQ(after.load(), 1);
    EXPECT_EQ(inline_before.load(), 1);
    EXPECT_EQ(inline_after.load(), 1);
    EXPECT_EQ(callbacks.load(), 2);
}

TEST_P(FutureOnExecutor, ThenInlineRunsOnTheWorkerThatCompletes) {
    std::atomic<std::thread::id> producer{};
    std::promise<void> attached;  // the producer finishes only once the continuation is added
    std::shared_future<void> gate = attached.get_future().share();
    weft::future<int> input = weft::async(m_ex, [&producer, gate] {
        producer = std::this_thread::get_id();
        weft::this_worker::blocking([&] { gate.wait(); });
        return 1;
    });
    const auto f = input.then_inline([&](int v) {
        EXPECT_EQ(std::this_thread::get_id(), producer.load());
        return v + 1;
    });
    attached.set_value();
    EXPECT_EQ(f.get(), 2);
}

TEST_P(FutureOnExecutor, LongInlineChainCompletedOnAWorkerDoesNotOverflowTheStack) {
    weft::promise<int> p{m_ex};
    weft::future<int> tail = p.get_future();
    for (int i = 0; i < 10'000; ++i) tail = tail.then_inline([](int v) { return v + 1; });
    const auto completer = weft::async(m_ex, [&p] { p.set_value(0); });
    completer.get();
    EXPECT_EQ(tail.get(), 10'000);
}

TEST_P(FutureOnExecutor, LongInlineChainOnAPromiseWithExecutorCompletedOutside) {
    weft::promise<int> p{m_ex};
    weft::future<int> tail = p.get_future();
    for (int i = 0; i < 10'000; ++i) tail = tail.then_inline([](int v) { return v + 1; });
    std::thread completer{[&p] { p.set_value(0); }};
    completer.join();
    EXPECT_EQ(tail.get(), 10'000);
}

TEST_P(FutureOnExecutor, DoneCallbackOnAWorkerRunsOnTheCompletingWorker) {
    std::atomic<std::thread::id> producer{};
    std::atomic<std::thread::id> callback{};
    weft::promise<void> done;
    const auto f = weft::async(m_ex, [&] {
        producer = std::this_thread::get_id();
        return 1;
    });
    // Attached after async: it may already be done (then it runs here) or not.
    f.add_done_callback([&](const weft::future<int>&) {
        callback = std::this_thread::get_id();
        done.set_value();
    });
    done.get_future().get();
    EXPECT_TRUE(callback.load() == producer.load() || callback.load() == std::this_thread::get_id());
}

INSTANTIATE_TEST_SUITE_P(Workers, FutureOnExecutor, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

TEST(Async, OneWorkerTaskThatGetsItsChildCompletes) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    const auto f = weft::async(ex, [&ex] {
        const auto child = weft::async(ex, [&ex] { return weft::async(ex, [] { return 1; }).get() + 1; });
        return child.get() + 1;
    });
    EXPECT_EQ(f.get(), 3);
}

}  // namespace
