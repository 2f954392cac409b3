// weft::when_all and weft::when_any: the variadic, range, iterator and empty forms,
// members that fail or are cancelled (each keeps its own outcome), when_any's index,
// empty input futures; the allocations each combinator makes (one block).
#include "counting_new.hpp"  // this executable's global operator new counts (only here)

#include <weft/when_all.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <list>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// `n` pending promises and their futures.
struct promises {
    explicit promises(std::size_t n) : m_promises(n) {
        for (auto& p : m_promises) m_futures.push_back(p.get_future());
    }
    std::vector<weft::promise<int>> m_promises;
    std::vector<weft::future<int>> m_futures;
};

TEST(WhenAll, VariadicHoldsEachInput) {
    weft::promise<int> a;
    weft::promise<std::string> b;
    weft::promise<void> c;
    const auto all = weft::when_all(a.get_future(), b.get_future(), c.get_future());
    static_assert(std::is_same_v<decltype(all), const weft::future<std::tuple<
                                                    weft::future<int>, weft::future<std::string>, weft::future<void>>>>);
    a.set_value(1);
    b.set_value("two");
    EXPECT_FALSE(all.done());
    c.set_value();
    ASSERT_TRUE(all.done());
    const auto& t = all.get();
    EXPECT_TRUE(std::get<0>(t) == a.get_future());
    EXPECT_EQ(std::get<0>(t).get(), 1);
    EXPECT_EQ(std::get<1>(t).get(), "two");
    EXPECT_NO_THROW(std::get<2>(t).get());
}

TEST(WhenAll, NoInputsIsDoneAtOnce) {
    const auto all = weft::when_all();
    EXPECT_TRUE(all.done());
    EXPECT_NO_THROW(all.get());
    const std::vector<weft::future<int>> none;
    const auto range = weft::when_all(none);
    ASSERT_TRUE(range.done());
    EXPECT_TRUE(range.get().empty());
    const auto iters = weft::when_all(none.begin(), none.end());
    ASSERT_TRUE(iters.done());
    EXPECT_TRUE(iters.get().empty());
}

TEST(WhenAll, RangeIsDoneWhenTheLastInputIs) {
    promises ps{5};
    const auto all = weft::when_all(ps.m_futures);
    static_assert(std::is_same_v<decltype(all), const weft::future<std::vector<weft::future<int>>>>);
    for (int i = 4; i >= 0; --i) {
        EXPECT_FALSE(all.done());
        ps.m_promises[static_cast<std::size_t>(i)].set_value(i * 10);
    }
    ASSERT_TRUE(all.done());
    const auto& v = all.get();
    ASSERT_EQ(v.size(), 5U);
    for (std::size_t i = 0; i < v.size(); ++i) {
        EXPECT_TRUE(v[i] == ps.m_futures[i]);  // the same inputs, in order
        EXPECT_EQ(v[i].get(), static_cast<int>(i) * 10);
    }
}

TEST(WhenAll, IteratorPairOverAList) {
    promises ps{3};
    const std::list<weft::future<int>> l(ps.m_futures.begin(), ps.m_futures.end());
    const auto all = weft::when_all(l.begin(), l.end());
    for (std::size_t i = 0; i < 3; ++i) ps.m_promises[i].set_value(static_cast<int>(i));
    ASSERT_TRUE(all.done());
    EXPECT_EQ(all.get()[2].get(), 2);
}

TEST(WhenAll, TemporaryContainerIsCopied) {
    promises ps{2};
    const auto all = weft::when_all(std::vector<weft::future<int>>{ps.m_futures});
    const auto arr = weft::when_all(std::array<weft::future<int>, 2>{ps.m_futures[0], ps.m_futures[1]});
    ps.m_promises[0].set_value(1);
    ps.m_promises[1].set_value(2);
    ASSERT_TRUE(all.done());
    ASSERT_TRUE(arr.done());
    EXPECT_EQ(all.get()[1].get(), 2);
    EXPECT_EQ(arr.get()[0].get(), 1);
}

TEST(WhenAll, AlreadyDoneInputsMakeItDoneAtOnce) {
    const auto all = weft::when_all(weft::make_ready_future(1), weft::make_ready_future());
    ASSERT_TRUE(all.done());
    EXPECT_EQ(std::get<0>(all.get()).get(), 1);
}

TEST(WhenAll, FailedAndCancelledMembersKeepTheirOwnOutcome) {
    promises ps{4};
    const auto all = weft::when_all(ps.m_futures);
    const auto e1 = std::make_exception_ptr(std::runtime_error{"one"});
    const auto e3 = std::make_exception_ptr(std::logic_error{"three"});
    ps.m_promises[0].set_value(0);
    ps.m_promises[1].set_exception(e1);
    ASSERT_TRUE(ps.m_futures[2].cancel());
    ps.m_promises[3].set_exception(e3);
    ASSERT_TRUE(all.done());
    EXPECT_EQ(all.exception(), nullptr);  // when_all itself succeeds
    EXPECT_FALSE(all.cancelled());
    const auto& v = all.get();
    EXPECT_EQ(v[0].get(), 0);
    EXPECT_EQ(v[1].exception(), e1);
    EXPECT_TRUE(v[2].cancelled());
    EXPECT_THROW(v[2].get(), weft::cancelled_error);
    EXPECT_EQ(v[3].exception(), e3);
    try {
        v[1].get();
        ADD_FAILURE() << "no exception";
    } catch (...) {
        EXPECT_EQ(std::current_exception(), e1);
    }
}

TEST(WhenAll, VariadicWithAFailedMember) {
    weft::promise<int> a;
    weft::promise<void> b;
    const auto e = std::make_exception_ptr(std::runtime_error{"b"});
    const auto all = weft::when_all(a.get_future(), b.get_future());
    b.set_exception(e);
    EXPECT_FALSE(all.done());
    a.set_value(3);
    ASSERT_TRUE(all.done());
    EXPECT_EQ(std::get<0>(all.get()).get(), 3);
    EXPECT_EQ(std::get<1>(all.get()).exception(), e);
}

TEST(WhenAll, CompletedFromOtherThreads) {
    promises ps{8};
    const auto all = weft::when_all(ps.m_futures);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < 8; ++i)
        threads.emplace_back([&ps, i] { ps.m_promises[i].set_value(static_cast<int>(i)); });
    const auto& v = all.get();  // blocks until the last thread completes its input
    int sum = 0;
    for (const auto& f : v) sum += f.get();
    for (auto& t : threads) t.join();
    EXPECT_EQ(sum, 28);
}

TEST(WhenAll, OnAnExecutorsTasks) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    std::vector<weft::future<int>> fs;
    for (int i = 0; i < 100; ++i) fs.push_back(weft::async(ex, [i] { return i; }));
    const auto sum = weft::when_all(fs).then([](const std::vector<weft::future<int>>& v) {
        int s = 0;
        for (const auto& f : v) s += f.get();
        return s;
    });
    EXPECT_EQ(sum.get(), 4950);
}

TEST(WhenAll, CancellingTheCombinedFutureLeavesTheInputs) {
    promises ps{2};
    const auto all = weft::when_all(ps.m_futures);
    EXPECT_TRUE(all.cancel());
    ps.m_promises[0].set_value(1);
    ps.m_promises[1].set_value(2);
    EXPECT_TRUE(all.cancelled());
    EXPECT_EQ(ps.m_futures[1].get(), 2);
}

TEST(WhenAll, EmptyInputFutureThrows) {
    weft::promise<int> p;
    EXPECT_THROW((void)weft::when_all(p.get_future(), weft::future<int>{}), weft::invalid_state_error);
    const std::vector<weft::future<int>> v{p.get_future(), weft::future<int>{}};
    EXPECT_THROW((void)weft::when_all(v), weft::invalid_state_error);
    EXPECT_THROW((void)weft::when_all(v.begin(), v.end()), weft::invalid_state_error);
    p.set_value(0);
}

TEST(WhenAny, IndexOfTheFirstDoneInput) {
    promises ps{4};
    const auto any = weft::when_any(ps.m_futures);
    EXPECT_FALSE(any.done());
    ps.m_promises[2].set_value(22);
    ASSERT_TRUE(any.done());
    EXPECT_EQ(any.get().index, 2U);
    ps.m_promises[0].set_value(0);  // a later one does not change it
    EXPECT_EQ(any.get().index, 2U);
    const auto& v = any.get().futures;
    ASSERT_EQ(v.size(), 4U);
    EXPECT_TRUE(v[2] == ps.m_futures[2]);
    EXPECT_EQ(v[2].get(), 22);
    ps.m_promises[1].set_value(1);
    ps.m_promises[3].set_value(3);
}

TEST(WhenAny, VariadicIndexAndAFailedWinner) {
    weft::promise<int> a;
    weft::promise<std::string> b;
    const auto any = weft::when_any(a.get_future(), b.get_future());
    const auto e = std::make_exception_ptr(std::runtime_error{"b failed"});
    b.set_exception(e);
    ASSERT_TRUE(any.done());
    EXPECT_EQ(any.exception(), nullptr);
    EXPECT_EQ(any.get().index, 1U);
    EXPECT_EQ(std::get<1>(any.get().futures).exception(), e);
    a.set_value(0);
}

TEST(WhenAny, CancelledInputCountsAsDone) {
    promises ps{2};
    const auto any = weft::when_any(ps.m_futures.begin(), ps.m_futures.end());
    ASSERT_TRUE(ps.m_futures[1].cancel());
    ASSERT_TRUE(any.done());
    EXPECT_EQ(any.get().index, 1U);
    EXPECT_TRUE(any.get().futures[1].cancelled());
    ps.m_promises[0].set_value(0);
}

TEST(WhenAny, AlreadyDoneInputWins) {
    weft::promise<int> pending;
    const auto any = weft::when_any(std::vector<weft::future<int>>{pending.get_future(), weft::make_ready_future(5)});
    ASSERT_TRUE(any.done());
    EXPECT_EQ(any.get().index, 1U);
    EXPECT_EQ(any.get().futures[1].get(), 5);
    pending.set_value(0);
}

TEST(WhenAny, EmptyRangeIsDoneWithNpos) {
    const std::vector<weft::future<int>> none;
    const auto any = weft::when_any(none);
    ASSERT_TRUE(any.done());
    EXPECT_EQ(any.get().index, weft::when_any_result<std::vector<weft::future<int>>>::npos);
    EXPECT_TRUE(any.get().futures.empty());
    const auto iters = weft::when_any(none.begin(), none.end());
    ASSERT_TRUE(iters.done());
    EXPECT_EQ(iters.get().index, static_cast<std::size_t>(-1));
}

TEST(WhenAny, EmptyInputFutureThrows) {
    weft::promise<int> p;
    EXPECT_THROW((void)weft::when_any(weft::future<int>{}, p.get_future()), weft::invalid_state_error);
    const std::vector<weft::future<int>> v{weft::future<int>{}};
    EXPECT_THROW((void)weft::when_any(v), weft::invalid_state_error);
    p.set_value(0);
}

TEST(WhenAny, CompletedByRacingThreadsPicksOneOfThem) {
    for (int round = 0; round < 50; ++round) {
        promises ps{4};
        const auto any = weft::when_any(ps.m_futures);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < 4; ++i)
            threads.emplace_back([&ps, i] { ps.m_promises[i].set_value(static_cast<int>(i)); });
        const auto& r = any.get();
        for (auto& t : threads) t.join();
        ASSERT_LT(r.index, 4U);
        EXPECT_EQ(r.futures[r.index].get(), static_cast<int>(r.index));
    }
}

// --- allocations: one block per combinator -----------------------------------------------
// Inputs are promises without an executor, so nothing but the calling thread runs and the
// counter sees only the combinator's own allocations. A combinator state small enough
// for the task pool's largest class (128 bytes: when_all of two futures) comes from the
// thread's free list once it is warm, and counts 0 here; a larger one is one operator new.

/// Global operator new calls made by `f()` on this thread (nothing else runs meanwhile).
template <class F>
std::uint64_t allocations_of(F&& f) {
    g_allocations.store(0);
    g_counting.store(true);
    f();
    g_counting.store(false);
    return g_allocations.load();
}

/// Makes `n` combinators over `ps`' futures with `make`, then completes the inputs; each
/// creation must cost at most `per_combinator` allocations, and completion none.
template <class Make>
void expect_allocations(std::size_t inputs, std::uint64_t per_combinator, Make make) {
    for (int round = 0; round < 4; ++round) {  // round 0 warms the pool up
        promises ps{inputs};
        std::vector<decltype(make(ps.m_futures))> made;
        made.reserve(8);
        const std::uint64_t created = allocations_of([&] {
            for (int i = 0; i < 8; ++i) made.push_back(make(ps.m_futures));
        });
        const std::uint64_t completed = allocations_of([&] {
            for (std::size_t i = 0; i < inputs; ++i) ps.m_promises[i].set_value(static_cast<int>(i));
        });
        for (const auto& f : made) ASSERT_TRUE(f.done());
        if (round == 0) continue;
        EXPECT_LE(created, 8 * per_combinator) << inputs << " inputs, round " << round;
        EXPECT_EQ(completed, 0U) << inputs << " inputs, round " << round;
    }
}

TEST(Allocations, VariadicWhenAllAndWhenAnyAreOneBlock) {
#ifndef WEFT_TEST_COUNTS_ALLOCATIONS
    GTEST_SKIP() << "allocations are not counted under a sanitizer";
#endif
    // Before: a std::vector of input states, the state, and a std::vector of members (3).
    expect_allocations(2, 1, [](auto& f) { return weft::when_all(f[0], f[1]); });
    expect_allocations(2, 1, [](auto& f) { return weft::when_any(f[0], f[1]); });
    expect_allocations(8, 1, [](auto& f) {
        return weft::when_all(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
    });
    expect_allocations(8, 1, [](auto& f) {
        return weft::when_any(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
    });
}

TEST(Allocations, RangeWhenAllAndWhenAnyAreTwoBlocks) {
#ifndef WEFT_TEST_COUNTS_ALLOCATIONS
    GTEST_SKIP() << "allocations are not counted under a sanitizer";
#endif
    // Two: the result's std::vector<future<T>> owns its buffer (the API's type: reserved
    // once for a sized range), and the state with its members trailing it is the other.
    // Before: the vector grown by push_back, a vector of input states, a vector of
    // members and the state.
    for (const std::size_t n : {1U, 3U, 100U}) {
        expect_allocations(n, 2, [](auto& f) { return weft::when_all(f); });
        expect_allocations(n, 2, [](auto& f) { return weft::when_any(f.begin(), f.end()); });
    }
}

TEST(Allocations, ThenIsOneBlock) {
#ifndef WEFT_TEST_COUNTS_ALLOCATIONS
    GTEST_SKIP() << "allocations are not counted under a sanitizer";
#endif
    const auto twice = [](const int& v) { return 2 * v; };
    expect_allocations(1, 1, [&](auto& f) { return f[0].then(twice); });
    expect_allocations(1, 1, [&](auto& f) { return f[0].then_inline(twice); });
    // The futures tree's node of future_bench: a when_all and a then, one block each.
    expect_allocations(2, 2, [](auto& f) {
        return weft::when_all(f[0], f[1]).then(
            [](const auto& both) { return std::get<0>(both).get() + std::get<1>(both).get(); });
    });
}

}  // namespace
