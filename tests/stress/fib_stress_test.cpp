// Stress of fork-join: recursive fib on 1–4 workers, a chain of 1 000 nested waits on one
// worker, and exceptions thrown from many tasks in many groups.
#include "stress_scale.hpp"

#include <weft/executor.hpp>
#include <weft/task_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace stress = weft::stress;

std::uint64_t serial_fib(int n) {
    return n < 2 ? static_cast<std::uint64_t>(n) : serial_fib(n - 1) + serial_fib(n - 2);
}

/// fib with one task_group per call and no serial cutoff: ~fib(n) * 3 spawns.
std::uint64_t parallel_fib(weft::executor& ex, int n) {
    if (n < 2) return static_cast<std::uint64_t>(n);
    std::uint64_t a = 0;
    weft::task_group g{ex};
    g.run([&] { a = parallel_fib(ex, n - 1); });
    const std::uint64_t b = parallel_fib(ex, n - 2);
    g.wait();
    return a + b;
}

/// Runs `f` on `ex` and waits for it from this (outside) thread.
template <class F>
void run_on(weft::executor& ex, F&& f) {
    weft::task_group g{ex};
    g.run(std::forward<F>(f));
    g.wait();
}

class FibStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(FibStress, ParallelFibEqualsSerial) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr int k_n = 25;
    const std::uint64_t want = serial_fib(k_n);
    ASSERT_EQ(want, 75025U);
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t reps = stress::scaled(40);
    for (std::uint64_t r = 0; r < reps; ++r) {
        std::uint64_t got = 0;
        run_on(ex, [&] { got = parallel_fib(ex, k_n); });
        ASSERT_EQ(got, want) << "repetition " << r;
    }
}

// Many small trees started at once from the outside thread: the roots come through the
// injection queue and the trees interleave on the workers.
TEST_P(FibStress, ManyConcurrentSmallFibsEqualSerial) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr int k_n = 15;
    const std::uint64_t want = serial_fib(k_n);
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::size_t trees = stress::scaled(2'000, 4);
    std::vector<std::uint64_t> got(trees, 0);
    weft::task_group g{ex};
    for (std::size_t i = 0; i < trees; ++i) g.run([&, i] { got[i] = parallel_fib(ex, k_n); });
    g.wait();
    for (std::size_t i = 0; i < trees; ++i) ASSERT_EQ(got[i], want) << "tree " << i;
}

INSTANTIATE_TEST_SUITE_P(Workers, FibStress, ::testing::Values(1, 2, 3, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

/// Level `level` of a chain: a group whose one child is the next level, waited on at once.
/// On one worker every wait must run the child itself, `depth` frames deep.
void nested_chain(weft::executor& ex, int level, int depth, std::atomic<int>& reached) {
    reached.fetch_add(1, std::memory_order_relaxed);
    if (level + 1 == depth) return;
    weft::task_group g{ex};
    g.run([&ex, level, depth, &reached] { nested_chain(ex, level + 1, depth, reached); });
    g.wait();
}

class NestedWaitStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(NestedWaitStress, ChainOfThousandNestedWaitsCompletes) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr int k_depth = 1'000;
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t reps = stress::scaled(1'000, 5);
    for (std::uint64_t r = 0; r < reps; ++r) {
        std::atomic<int> reached{0};
        run_on(ex, [&] { nested_chain(ex, 0, k_depth, reached); });
        ASSERT_EQ(reached.load(), k_depth) << "repetition " << r;
    }
}

// The same chain, but every level also spawns a sibling that does a little work, so the
// waits find other tasks (stealable ones, on more than one worker) while they wait.
TEST_P(NestedWaitStress, ChainWithSiblingsCompletes) {
    stress::watchdog dog{stress::k_watchdog_limit};
    constexpr int k_depth = 1'000;
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t reps = stress::scaled(500, 3);
    for (std::uint64_t r = 0; r < reps; ++r) {
        std::atomic<int> levels{0};
        std::atomic<int> siblings{0};
        struct chain {
            weft::executor& ex;
            std::atomic<int>& levels;
            std::atomic<int>& siblings;
            void operator()(int level) const {
                levels.fetch_add(1, std::memory_order_relaxed);
                if (level + 1 == k_depth) return;
                weft::task_group g{ex};
                g.run([this] { siblings.fetch_add(1, std::memory_order_relaxed); });
                g.run([this, level] { (*this)(level + 1); });
                g.wait();
            }
        };
        const chain c{ex, levels, siblings};
        run_on(ex, [&c] { c(0); });
        ASSERT_EQ(levels.load(), k_depth) << "repetition " << r;
        ASSERT_EQ(siblings.load(), k_depth - 1) << "repetition " << r;
    }
}

INSTANTIATE_TEST_SUITE_P(Workers, NestedWaitStress, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

/// A task that, while the shared budget lasts, adds two more tasks to its own group: run()
/// from threads other than the group's owner (and from the owner, when it helps).
struct sibling_spawner {
    weft::task_group& group;
    std::atomic<std::int64_t>& budget;
    std::atomic<std::int64_t>& ran;
    void operator()() const {
        ran.fetch_add(1, std::memory_order_relaxed);
        for (int k = 0; k < 2; ++k)
            if (budget.fetch_sub(1, std::memory_order_relaxed) > 0) group.run(*this);
    }
};

/// Rounds on one reused group: each starts one spawner with a budget of `tasks - 1`
/// more, waits, and checks that exactly `tasks` ran.
void sibling_rounds(weft::executor& ex, std::uint64_t rounds, std::int64_t tasks) {
    weft::task_group g{ex};
    for (std::uint64_t r = 0; r < rounds; ++r) {
        std::atomic<std::int64_t> budget{tasks - 1};
        std::atomic<std::int64_t> ran{0};
        g.run(sibling_spawner{g, budget, ran});
        g.wait();
        ASSERT_TRUE(g.is_done());
        ASSERT_EQ(ran.load(), tasks) << "round " << r;
    }
}

class TaskGroupStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(TaskGroupStress, ChildrenAddSiblingsOwnerOutside) {
    stress::watchdog dog{stress::k_watchdog_limit};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    sibling_rounds(ex, stress::scaled(6'000, 10), 500);
}

TEST_P(TaskGroupStress, ChildrenAddSiblingsOwnerOnWorker) {
    stress::watchdog dog{stress::k_watchdog_limit};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    run_on(ex, [&] { sibling_rounds(ex, stress::scaled(6'000, 10), 500); });
}

INSTANTIATE_TEST_SUITE_P(Workers, TaskGroupStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

/// The exception a task of the exception test throws: which group, which task.
struct task_failure : std::runtime_error {
    task_failure(std::size_t g, std::size_t t)
        : std::runtime_error{"task failed"}, group{g}, task{t} {}
    std::size_t group, task;
};

class ExceptionStress : public ::testing::TestWithParam<std::size_t> {};

// Many groups (each waited on a worker, inside an outer group waited from outside), each
// running many tasks of which some throw. Per group: wait() rethrows exactly one of the
// group's own exceptions, dropped_exception_count() counts the rest, and the handler saw
// exactly those; no exception is lost or reported twice.
TEST_P(ExceptionStress, FirstPlusDroppedEqualsThrown) {
    stress::watchdog dog{stress::k_watchdog_limit};
    std::atomic<std::uint64_t> reported{0};
    std::atomic<std::uint64_t> reported_foreign{0};
    weft::executor_options options{.workers = GetParam()};
    options.unhandled_exception_handler = [&](const std::exception_ptr& e, std::string_view) {
        try {
            std::rethrow_exception(e);
        } catch (const task_failure&) {
            reported.fetch_add(1, std::memory_order_relaxed);
        } catch (...) {
            reported_foreign.fetch_add(1, std::memory_order_relaxed);
        }
    };
    weft::executor ex{options};

    const std::size_t groups = stress::scaled(10'000, 20);
    constexpr std::size_t k_tasks = 64;
    struct group_result {
        std::atomic<std::uint64_t> thrown{0};
        std::uint64_t rethrown = 0;      // by wait(): 0 or 1
        std::uint64_t dropped = 0;       // dropped_exception_count() after wait()
        bool foreign = false;            // wait() rethrew another group's exception
        bool second_wait_threw = false;  // the group, reused, still had an exception
        std::uint64_t ran = 0;
    };
    std::vector<group_result> results(groups);

    weft::task_group outer{ex};
    for (std::size_t gi = 0; gi < groups; ++gi) {
        outer.run([&ex, &results, gi] {
            group_result& res = results[gi];
            std::atomic<std::uint64_t> ran{0};
            weft::task_group g{ex};
            // Group gi throws from every task whose index is a multiple of (gi % 5): from
            // none (gi % 5 == 0), from all, or from a third, a quarter...
            const std::size_t every = gi % 5;
            for (std::size_t t = 0; t < k_tasks; ++t) {
                g.run([&res, &ran, gi, t, every] {
                    ran.fetch_add(1, std::memory_order_relaxed);
                    if (every != 0 && t % every == 0) {
                        res.thrown.fetch_add(1, std::memory_order_relaxed);
                        throw task_failure{gi, t};
                    }
                });
            }
            try {
                g.wait();
            } catch (const task_failure& e) {
                ++res.rethrown;
                res.foreign = e.group != gi;
            }
            res.dropped = g.dropped_exception_count();
            res.ran = ran.load(std::memory_order_relaxed);
            try {
                g.wait();  // nothing left: the first exception was handed out once
            } catch (...) {
                res.second_wait_threw = true;
            }
        });
    }
    outer.wait();

    std::uint64_t thrown = 0, rethrown = 0, dropped = 0;
    for (std::size_t gi = 0; gi < groups; ++gi) {
        const group_result& res = results[gi];
        const std::uint64_t t = res.thrown.load();
        thrown += t;
        rethrown += res.rethrown;
        dropped += res.dropped;
        ASSERT_EQ(res.ran, k_tasks) << "group " << gi;
        ASSERT_EQ(res.rethrown, t == 0 ? 0U : 1U) << "group " << gi << " threw " << t;
        ASSERT_EQ(res.rethrown + res.dropped, t) << "group " << gi;
        ASSERT_FALSE(res.foreign) << "group " << gi << " rethrew another group's exception";
        ASSERT_FALSE(res.second_wait_threw) << "group " << gi;
    }
    EXPECT_GT(thrown, 0U);
    EXPECT_EQ(rethrown + dropped, thrown);
    EXPECT_EQ(reported.load(), dropped) << "each dropped exception is reported once";
    EXPECT_EQ(reported_foreign.load(), 0U);
}

// Groups destroyed without wait(): the destructor waits for the tasks, and every
// exception they threw reaches the handler exactly once (the first from the destructor,
// the rest as they are dropped). Half the groups live on a worker, half on this thread.
TEST_P(ExceptionStress, UnwaitedGroupsReportEveryException) {
    stress::watchdog dog{stress::k_watchdog_limit};
    std::atomic<std::uint64_t> reported{0};
    std::atomic<std::uint64_t> thrown{0};
    std::atomic<std::uint64_t> ran{0};
    weft::executor_options options{.workers = GetParam()};
    options.unhandled_exception_handler = [&](const std::exception_ptr&, std::string_view) {
        reported.fetch_add(1, std::memory_order_relaxed);
    };
    weft::executor ex{options};
    const std::size_t groups = stress::scaled(2'000, 20);
    constexpr std::size_t k_tasks = 16;
    auto fill_and_drop = [&](std::size_t gi) {
        weft::task_group g{ex};
        for (std::size_t t = 0; t < k_tasks; ++t)
            g.run([&, gi, t] {
                ran.fetch_add(1, std::memory_order_relaxed);
                if ((gi + t) % 3 == 0) {
                    thrown.fetch_add(1, std::memory_order_relaxed);
                    throw task_failure{gi, t};
                }
            });
    };  // ~task_group: waits, then reports the exception wait() would have rethrown
    weft::task_group outer{ex};
    for (std::size_t gi = 0; gi < groups; ++gi) {
        if (gi % 2 == 0)
            fill_and_drop(gi);
        else
            outer.run([&fill_and_drop, gi] { fill_and_drop(gi); });
    }
    outer.wait();
    EXPECT_EQ(ran.load(), groups * k_tasks);
    EXPECT_GT(thrown.load(), 0U);
    EXPECT_EQ(reported.load(), thrown.load());
}

// Posted tasks that throw: every exception reaches the handler, once, and the workers
// keep running the rest.
TEST_P(ExceptionStress, PostedExceptionsAllReachTheHandler) {
    stress::watchdog dog{stress::k_watchdog_limit};
    std::atomic<std::uint64_t> reported{0};
    std::atomic<std::uint64_t> ran{0};
    const std::size_t n = stress::scaled(200'000, 1'000);
    weft::executor_options options{.workers = GetParam()};
    options.unhandled_exception_handler = [&](const std::exception_ptr&, std::string_view where) {
        if (!where.empty()) reported.fetch_add(1, std::memory_order_relaxed);
    };
    {
        weft::executor ex{options};
        for (std::size_t i = 0; i < n; ++i)
            ex.post([&, i] {
                ran.fetch_add(1, std::memory_order_relaxed);
                if (i % 2 == 0) throw task_failure{0, i};
            });
    }  // the destructor drains
    EXPECT_EQ(ran.load(), n);
    EXPECT_EQ(reported.load(), (n + 1) / 2);
}

INSTANTIATE_TEST_SUITE_P(Workers, ExceptionStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
