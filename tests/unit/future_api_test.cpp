// The future API as a newcomer meets it (issue: values out of futures, one executor
// concept, std::future interop, consistent types, the small bugs found on the way).
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include "test_signal.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// Counts copies and moves of itself.
struct counted {
    explicit counted(int v) : m_value{v} {}
    counted(const counted& o) : m_value{o.m_value} { ++copies(); }
    counted(counted&& o) noexcept : m_value{o.m_value} { ++moves(); }
    counted& operator=(const counted&) = default;
    counted& operator=(counted&&) = default;
    static int& copies() {
        static int n = 0;
        return n;
    }
    static int& moves() {
        static int n = 0;
        return n;
    }
    static void reset() { copies() = moves() = 0; }
    int m_value;
};

std::vector<int> make_vector() { return {1, 2, 3, 4}; }

// --- values out of futures -------------------------------------------------------------

TEST(FutureValues, RangeForOverTheGetOfATemporaryIsSafe) {
    weft::executor ex{2};
    for (int round = 0; round < 200; ++round) {
        int sum = 0;
        // A reference into a dying state would be a heap-use-after-free (ASan build).
        for (int v : weft::async(ex, make_vector).get()) sum += v;
        ASSERT_EQ(sum, 10);
    }
}

TEST(FutureValues, RvalueGetMovesAMoveOnlyValueOut) {
    weft::executor ex{2};
    // Repeated: the producing task's own reference is dropped just after completion;
    // it must never make the only handle look shared.
    for (int round = 0; round < 2'000; ++round) {
        std::unique_ptr<int> p = weft::async(ex, [round] { return std::make_unique<int>(round); }).get();
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(*p, round);
    }
}

TEST(FutureValues, RvalueGetLeavesTheHandleEmpty) {
    weft::executor ex{1};
    weft::future<int> f = weft::async(ex, [] { return 5; });
    EXPECT_EQ(std::move(f).get(), 5);
    EXPECT_FALSE(f.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_THROW((void)f.get(), weft::invalid_state_error);
}

TEST(FutureValues, RvalueGetMovesWhenSoleReaderAndCopiesWhenShared) {
    weft::promise<counted> p;
    weft::future<counted> only = p.get_future();
    p.set_value(7);
    counted::reset();
    const counted a = std::move(only).get();
    EXPECT_EQ(a.m_value, 7);
    EXPECT_EQ(counted::copies(), 0);

    weft::promise<counted> q;
    weft::future<counted> one = q.get_future();
    const weft::future<counted> other = one;  // a second handle: the value is shared
    q.set_value(8);
    counted::reset();
    const counted b = std::move(one).get();
    EXPECT_EQ(b.m_value, 8);
    EXPECT_EQ(counted::copies(), 1);
    EXPECT_EQ(other.get().m_value, 8);  // untouched
}

TEST(FutureValues, SharedMoveOnlyValueCannotBeTaken) {
    weft::promise<std::unique_ptr<int>> p;
    weft::future<std::unique_ptr<int>> f = p.get_future();
    const weft::future<std::unique_ptr<int>> keeper = f;
    p.set_value(std::make_unique<int>(3));
    try {
        (void)std::move(f).get();
        FAIL() << "expected invalid_state_error";
    } catch (const weft::invalid_state_error& e) {
        EXPECT_EQ(std::string{e.what()}.rfind("weft::future::get", 0), 0U) << e.what();
    }
    EXPECT_EQ(*keeper.get(), 3);  // still there
}

TEST(FutureValues, RvalueGetRethrowsTheStoredException) {
    weft::executor ex{1};
    weft::future<int> f = weft::async(ex, []() -> int { throw std::runtime_error("boom"); });
    f.wait();
    const std::exception_ptr stored = f.exception();
    try {
        (void)std::move(f).get();
        FAIL();
    } catch (...) {
        EXPECT_EQ(std::current_exception(), stored);
    }
}

TEST(FutureValues, ContinuationStillReadingKeepsTheValueFromBeingMoved) {
    weft::executor ex{2};
    for (int round = 0; round < 500; ++round) {
        weft::future<std::vector<int>> f = weft::async(ex, make_vector);
        weft::future<std::size_t> n = f.then([](const std::vector<int>& v) { return v.size(); });
        const std::vector<int> v = std::move(f).get();
        ASSERT_EQ(v.size(), 4U);
        ASSERT_EQ(n.get(), 4U);  // the continuation read the value, not a moved-from one
    }
}

TEST(FutureValues, RvalueThenPassesTheValueByMove) {
    weft::executor ex{2};
    weft::future<int> r = weft::async(ex, [] { return std::make_unique<int>(41); }).then([](std::unique_ptr<int> p) {
        return *p + 1;
    });
    EXPECT_EQ(r.get(), 42);

    weft::promise<counted> p;
    weft::future<counted> f = p.get_future();
    weft::future<int> moved = std::move(f).then([](counted c) { return c.m_value; });
    counted::reset();
    p.set_value(9);
    EXPECT_EQ(moved.get(), 9);
    EXPECT_EQ(counted::copies(), 0);
}

TEST(FutureValues, UnwrappingAMoveOnlyInnerFutureThatIsAlreadyDone) {
    // The returned future is still alive when its (done) outcome is forwarded: its
    // reader reference is the forward's own, not a second reader.
    weft::executor ex{2};
    for (int round = 0; round < 200; ++round) {
        weft::future<std::unique_ptr<int>> f = weft::make_ready_future(1).then([](int v) {
            return weft::make_ready_future(std::make_unique<int>(v + 1));
        });
        ASSERT_EQ(*std::move(f).get(), 2);
        weft::future<std::unique_ptr<int>> g = weft::async(ex, [] { return 3; }).then([&ex](int v) {
            return weft::async(ex, [v] { return std::make_unique<int>(v); });
        });
        ASSERT_EQ(*std::move(g).get(), 3);
    }
}

TEST(FutureValues, RvalueThenOfASharedMoveOnlyValueFails) {
    weft::promise<std::unique_ptr<int>> p;
    weft::future<std::unique_ptr<int>> f = p.get_future();
    const weft::future<std::unique_ptr<int>> keeper = f;
    weft::future<int> r = std::move(f).then([](std::unique_ptr<int> v) { return *v; });
    p.set_value(std::make_unique<int>(1));
    EXPECT_THROW((void)r.get(), weft::invalid_state_error);
    EXPECT_EQ(*keeper.get(), 1);
}

TEST(FutureValues, WhenAllValuesTuple) {
    weft::executor ex{2};
    auto all = weft::when_all_values(weft::async(ex, [] { return 1; }), weft::async(ex, [] { return std::string{"two"}; }),
                                     weft::async(ex, [] {}));
    static_assert(std::is_same_v<decltype(all), weft::future<std::tuple<int, std::string, std::monostate>>>);
    auto [a, b, c] = std::move(all).get();
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "two");
    (void)c;
}

TEST(FutureValues, WhenAllValuesRangeAndMoveOnly) {
    weft::executor ex{2};
    std::vector<weft::future<int>> fs;
    for (int i = 0; i < 50; ++i) fs.push_back(weft::async(ex, [i] { return i * i; }));
    const std::vector<int> squares = weft::when_all_values(fs).get();
    ASSERT_EQ(squares.size(), 50U);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(squares[static_cast<std::size_t>(i)], i * i);

    std::vector<weft::future<std::unique_ptr<int>>> owned;
    for (int i = 0; i < 8; ++i) owned.push_back(weft::async(ex, [i] { return std::make_unique<int>(i); }));
    std::vector<std::unique_ptr<int>> ptrs = weft::when_all_values(std::move(owned)).get();
    ASSERT_EQ(ptrs.size(), 8U);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(*ptrs[static_cast<std::size_t>(i)], i);
}

TEST(FutureValues, WhenAllValuesFailsWithTheFirstFailingInputInArgumentOrder) {
    weft::promise<int> late;
    weft::promise<int> early;
    auto all = weft::when_all_values(weft::make_ready_future(1), late.get_future(), early.get_future());
    early.set_exception(std::make_exception_ptr(std::runtime_error("early")));
    late.set_exception(std::make_exception_ptr(std::runtime_error("late")));
    try {
        (void)all.get();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "late");
    }
}

// --- one executor concept --------------------------------------------------------------

static_assert(weft::executor_like<weft::executor>);
static_assert(weft::executor_like<weft::thread_pool_executor>);
static_assert(!weft::executor_like<int>);

/// A user's executor: one thread and a queue of std::function (so it copies tasks).
class single_thread_executor {
public:
    single_thread_executor() : m_thread{[this] { loop(); }} {}
    ~single_thread_executor() {
        {
            std::lock_guard lock{m_mutex};
            m_stop = true;
        }
        m_cv.notify_one();
        m_thread.join();
    }
    void post(std::function<void()> f) {
        {
            std::lock_guard lock{m_mutex};
            if (m_drop_next) {
                m_drop_next = false;
                return;  // destroys f without running it
            }
            if (m_refuse) throw std::runtime_error("refused");
            m_queue.push_back(std::move(f));
        }
        m_cv.notify_one();
    }
    bool running_in_this_thread() const noexcept { return std::this_thread::get_id() == m_thread.get_id(); }
    std::thread::id id() const { return m_thread.get_id(); }
    void drop_next() {
        std::lock_guard lock{m_mutex};
        m_drop_next = true;
    }
    void refuse(bool on) {
        std::lock_guard lock{m_mutex};
        m_refuse = on;
    }

private:
    void loop() {
        std::unique_lock lock{m_mutex};
        for (;;) {
            m_cv.wait(lock, [this] { return m_stop || !m_queue.empty(); });
            if (m_queue.empty()) return;
            std::function<void()> f = std::move(m_queue.front());
            m_queue.pop_front();
            lock.unlock();
            f();
            lock.lock();
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<std::function<void()>> m_queue;
    bool m_stop = false;
    bool m_drop_next = false;
    bool m_refuse = false;
    std::thread m_thread;
};

static_assert(weft::executor_like<single_thread_executor>);

TEST(ExecutorLike, AsyncThenAndCallbacksOnAUserExecutor) {
    single_thread_executor user;
    weft::future<std::thread::id> where = weft::async(user, [] { return std::this_thread::get_id(); });
    EXPECT_EQ(where.get(), user.id());

    weft::executor ex{1};
    weft::future<std::thread::id> then_on = weft::async(ex, [] { return 1; }).then(user, [](int) {
        return std::this_thread::get_id();
    });
    EXPECT_EQ(then_on.get(), user.id());

    std::promise<std::thread::id> seen;
    weft::make_ready_future(3).add_done_callback(user, [&seen](const weft::future<int>& f) {
        EXPECT_EQ(f.get(), 3);
        seen.set_value(std::this_thread::get_id());
    });
    EXPECT_EQ(seen.get_future().get(), user.id());
}

TEST(ExecutorLike, AWaitOnTheUsersOwnThreadRunsTheAwaitedTaskItself) {
    single_thread_executor user;
    // With one thread, waiting for a task queued behind the waiter would deadlock; the
    // waiter runs it itself (running_in_this_thread()).
    weft::future<int> outer = weft::async(user, [&user] {
        weft::future<int> inner = weft::async(user, [] { return 20; });
        return inner.get() + 1;
    });
    EXPECT_EQ(outer.get(), 21);
}

TEST(ExecutorLike, ATaskTheExecutorDropsFailsWithBrokenPromise) {
    single_thread_executor user;
    user.drop_next();
    weft::future<int> f = weft::async(user, [] { return 1; });
    EXPECT_THROW((void)f.get(), weft::broken_promise);
}

TEST(ExecutorLike, APostThatThrowsIsThrownByAsync) {
    single_thread_executor user;
    user.refuse(true);
    EXPECT_THROW((void)weft::async(user, [] { return 1; }), std::runtime_error);
    weft::promise<int> p;
    weft::future<int> g = p.get_future().then(user, [](int v) { return v; });
    p.set_value(1);
    EXPECT_THROW((void)g.get(), std::runtime_error);  // the continuation's post failed
    user.refuse(false);
}

TEST(ExecutorLike, ThenWithoutAnExecutorOnAPoolFutureRunsOnThePool) {
    weft::thread_pool_executor pool{weft::thread_pool_options{.max_workers = 2, .thread_name_prefix = "thenpool"}};
    // Completed before then() is called: the continuation still goes to the pool.
    weft::future<int> done = pool.submit([] { return 1; });
    done.wait();
    weft::future<std::string> name = done.then([](int) {
        return std::string{weft::thread_pool_executor::current_thread_name()};
    });
    EXPECT_EQ(name.get().rfind("thenpool_", 0), 0U);

    weft::executor ex{1};
    weft::future<std::string> on_pool = weft::async(ex, [] { return 1; }).then(pool, [](int) {
        return std::string{weft::thread_pool_executor::current_thread_name()};
    });
    EXPECT_EQ(on_pool.get().rfind("thenpool_", 0), 0U);

    weft::promise<int> p{pool};
    weft::future<bool> from_promise = p.get_future().then([&pool](int) { return pool.running_in_this_thread(); });
    p.set_value(1);
    EXPECT_TRUE(from_promise.get());
}

TEST(ExecutorLike, ThenOnAPoolThatShutDownFailsWithShutdownError) {
    weft::future<int> f;
    {
        weft::thread_pool_executor pool{1};
        f = pool.submit([] { return 1; });
        f.wait();
        pool.shutdown();
        weft::future<int> g = f.then([](int v) { return v; });
        EXPECT_THROW((void)g.get(), weft::executor_shutdown_error);
    }
    weft::future<int> h = f.then([](int v) { return v; });  // the pool is gone
    EXPECT_THROW((void)h.get(), weft::executor_shutdown_error);
}

// --- std::future interop ---------------------------------------------------------------

TEST(StdFutureInterop, ToStdFuture) {
    weft::executor ex{2};
    std::future<int> a = weft::to_std_future(weft::async(ex, [] { return 4; }));
    EXPECT_EQ(a.get(), 4);
    std::future<std::unique_ptr<int>> b = weft::to_std_future(weft::async(ex, [] { return std::make_unique<int>(5); }));
    EXPECT_EQ(*b.get(), 5);
    std::future<void> c = weft::to_std_future(weft::async(ex, [] {}));
    c.get();

    weft::future<int> failing = weft::async(ex, []() -> int { throw std::logic_error("x"); });
    failing.wait();
    std::future<int> d = weft::to_std_future(failing);
    try {
        (void)d.get();
        FAIL();
    } catch (...) {
        EXPECT_EQ(std::current_exception(), failing.exception());
    }

    weft::promise<int> p;
    std::future<int> e = weft::to_std_future(p.get_future());
    EXPECT_EQ(e.wait_for(0s), std::future_status::timeout);
    EXPECT_TRUE(p.get_future().cancel());
    EXPECT_THROW((void)e.get(), weft::cancelled_error);
}

TEST(StdFutureInterop, FromStdFuture) {
    weft::executor ex{1};
    weft::future<int> a = weft::from_std_future(ex, std::async(std::launch::async, [] { return 6; }));
    EXPECT_EQ(a.get(), 6);

    std::promise<std::string> sp;
    weft::future<std::string> b = weft::from_std_future(ex, sp.get_future());
    // The only worker blocks in the adopted wait; a spare runs the task that fulfils it.
    weft::future<void> fulfil = weft::async(ex, [&sp] { sp.set_value("late"); });
    EXPECT_EQ(b.get(), "late");
    fulfil.get();

    std::promise<int> broken;
    weft::future<int> c = weft::from_std_future(ex, broken.get_future());
    broken.set_exception(std::make_exception_ptr(std::out_of_range("r")));
    EXPECT_THROW((void)c.get(), std::out_of_range);

    weft::thread_pool_executor pool{1};
    weft::future<int> d = weft::from_std_future(pool, std::async(std::launch::deferred, [] { return 8; }));
    EXPECT_EQ(d.get(), 8);

    EXPECT_THROW((void)weft::from_std_future(ex, std::future<int>{}), weft::invalid_state_error);
}

// --- consistent types ------------------------------------------------------------------

TEST(ConsistentTypes, AsyncAndSubmitDecayAReferenceResult) {
    weft::executor ex{1};
    weft::thread_pool_executor pool{1};
    int x = 3;
    auto a = weft::async(ex, [&x]() -> int& { return x; });
    auto b = pool.submit([&x]() -> const int& { return x; });
    static_assert(std::is_same_v<decltype(a), weft::future<int>>);
    static_assert(std::is_same_v<decltype(b), weft::future<int>>);
    EXPECT_EQ(a.get(), 3);
    EXPECT_EQ(b.get(), 3);
}

TEST(ConsistentTypes, WorkerCountsAreIntFriendly) {
    weft::executor four{4};
    EXPECT_EQ(four.worker_count(), 4U);
    // Not constants: a narrowing error would show only for values unknown at compile time.
    int i = 2;
    unsigned u = 2;
    std::size_t z = 2;
    EXPECT_EQ((weft::executor{weft::executor_options{.workers = i}}.worker_count()), 2U);
    EXPECT_EQ((weft::executor{weft::executor_options{.workers = u}}.worker_count()), 2U);
    EXPECT_EQ((weft::executor{weft::executor_options{.workers = z, .max_spare_workers = i}}.worker_count()), 2U);
    EXPECT_EQ((weft::thread_pool_executor{weft::thread_pool_options{.max_workers = z}}.max_workers()), 2);
    static_assert(!std::is_constructible_v<weft::thread_count, bool>);
    static_assert(!std::is_constructible_v<weft::thread_count, double>);
    try {
        weft::executor bad{-1};
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string{e.what()}.rfind("weft::executor: ", 0), 0U) << e.what();
    }
    EXPECT_THROW(weft::executor{weft::executor_options{.max_spare_workers = -3}}, std::invalid_argument);
}

// --- small bugs ------------------------------------------------------------------------

struct alignas(64) wide {
    int m_value = 0;
};

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

TEST(SmallBugs, OverAlignedResultsAreAligned) {
    weft::executor ex{2};
    for (int round = 0; round < 50; ++round) {
        weft::future<wide> a = weft::async(ex, [] { return wide{1}; });
        weft::future<wide> b = a.then([](const wide& w) { return wide{w.m_value + 1}; });
        weft::future<wide> c = a.then_inline([](const wide& w) { return wide{w.m_value + 2}; });
        weft::future<wide> d = a.continue_with([](const weft::future<wide>& w) { return w.get(); });
        ASSERT_TRUE(aligned(&a.get()));
        ASSERT_TRUE(aligned(&b.get()));
        ASSERT_TRUE(aligned(&c.get()));
        ASSERT_TRUE(aligned(&d.get()));
        EXPECT_EQ(b.get().m_value, 2);
        EXPECT_EQ(c.get().m_value, 3);
    }
}

TEST(SmallBugs, CancelCancelsTheChainBeforeItReturns) {
    weft::executor ex{1};
    weft::promise<int> p{ex};
    weft::future<int> f = p.get_future();
    weft::future<int> g = f.then([](int v) { return v + 1; });
    weft::future<int> h = g.then([](int v) { return v + 1; });
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(g.cancelled());  // no wait: cancelled on this thread
    EXPECT_TRUE(h.cancelled());

    // A queued async on an executor whose only worker is busy.
    weft::test::signal release;
    weft::future<void> busy = weft::async(ex, [&release] { EXPECT_TRUE(release.wait()); });
    weft::future<int> queued = weft::async(ex, [] { return 1; });
    weft::future<int> after = queued.then([](int v) { return v; });
    EXPECT_TRUE(queued.cancel());
    EXPECT_TRUE(after.cancelled());
    release.raise();
    busy.get();
}

TEST(SmallBugs, CancellingALongChainKeepsTheStackBounded) {
    weft::promise<int> p;
    weft::future<int> head = p.get_future();
    weft::future<int> tail = head;
    for (int i = 0; i < 100'000; ++i) tail = tail.then([](int v) { return v + 1; });
    EXPECT_TRUE(head.cancel());
    EXPECT_TRUE(tail.cancelled());
}

TEST(SmallBugs, AnExceptionPassesDownTheChainAtOnce) {
    weft::executor ex{1};
    weft::promise<int> p{ex};
    weft::future<int> g = p.get_future().then([](int v) { return v; }).then([](int v) { return v; });
    p.set_exception(std::make_exception_ptr(std::runtime_error("e")));
    EXPECT_TRUE(g.done());
    EXPECT_THROW((void)g.get(), std::runtime_error);
}

TEST(SmallBugs, ErrorsStartWithThePublicName) {
    weft::promise<int> p;
    weft::future<int> f = p.get_future();
    try {
        (void)f.result(1ms);
        FAIL();
    } catch (const weft::timeout_error& e) {
        EXPECT_EQ(std::string{e.what()}.rfind("weft::future::result", 0), 0U) << e.what();
    }
    EXPECT_TRUE(f.cancel());
    try {
        (void)f.get();
        FAIL();
    } catch (const weft::cancelled_error& e) {
        EXPECT_EQ(std::string{e.what()}.rfind("weft::future", 0), 0U) << e.what();
    }
    try {
        (void)f.exception();
        FAIL();
    } catch (const weft::cancelled_error& e) {
        EXPECT_EQ(std::string{e.what()}.rfind("weft::future", 0), 0U) << e.what();
    }
}

}  // namespace
