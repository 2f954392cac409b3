// Dependency soup: rounds of tasks with a random acyclic wait-for pattern (task i waits
// only on tasks j < i), each waiting in one of weft's ways: future.get(), a task_group of
// children that wait, weft::wait, weft::as_completed, this_worker::blocking(latch.wait),
// then() chains (unwrapping), or an async of its own that waits. Tasks are submitted from
// outside and from inside other tasks, by post or async, in a random order, so a task is
// often queued behind or below what it waits for, or not yet submitted at all.
//
// On an unbounded pool every round finishes; the waiting rule (a waiter runs only what it
// awaits, else blocks while a spare keeps the parallelism) must finish it on 1, 2 and 4
// workers too, with every task run exactly once. A round has at most k_round_tasks tasks,
// so the threads blocked at once stay far below the spare limit (256).
//
// Sized by WEFT_STRESS_SCALE, seeded (WEFT_STRESS_SEED replays a plan; thread timing
// varies), watched by a watchdog that names the unfinished tasks.
#include "stress_scale.hpp"

#include <weft/executor.hpp>
#include <weft/future.hpp>
#include <weft/task_group.hpp>
#include <weft/this_worker.hpp>
#include <weft/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace stress = weft::stress;

constexpr std::size_t k_round_tasks = 32;
constexpr std::size_t k_max_deps = 3;

/// How a task waits for its dependencies.
enum class wait_kind {
    get,
    group,
    wait_all,
    as_completed,
    blocking_latch,
    then_chain,
    own_async,
    count
};

const char* kind_name(wait_kind k) {
    switch (k) {
        case wait_kind::get:
            return "get";
        case wait_kind::group:
            return "group";
        case wait_kind::wait_all:
            return "wait";
        case wait_kind::as_completed:
            return "as_completed";
        case wait_kind::blocking_latch:
            return "blocking";
        case wait_kind::then_chain:
            return "then";
        case wait_kind::own_async:
            return "own_async";
        case wait_kind::count:
            break;
    }
    return "?";
}

struct task_plan {
    wait_kind kind = wait_kind::get;
    std::vector<std::size_t> deps;     // distinct, each < the task's own index
    bool by_async = false;             // submitted with weft::async rather than post
    std::vector<std::size_t> submits;  // tasks this one submits first thing, in this order
};

/// One round's plan: the tasks, and the ones the outside thread submits, in order.
struct round_plan {
    std::vector<task_plan> tasks;
    std::vector<std::size_t> from_outside;
    std::uint64_t group_children = 0;  // children the group-kind tasks run
};

round_plan make_plan(std::mt19937_64& rng, std::size_t n) {
    round_plan p;
    p.tasks.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        task_plan& t = p.tasks[i];
        t.kind = static_cast<wait_kind>(rng() % static_cast<std::uint64_t>(wait_kind::count));
        const std::size_t want = i == 0 ? 0 : rng() % (std::min(i, k_max_deps) + 1);
        // Mostly near neighbours (long chains), sometimes anything earlier.
        const std::size_t window = rng() % 2 == 0 ? std::min<std::size_t>(i, 6) : i;
        while (t.deps.size() < want) {
            const std::size_t j = i - 1 - rng() % window;
            if (std::find(t.deps.begin(), t.deps.end(), j) == t.deps.end()) t.deps.push_back(j);
        }
        if (t.kind == wait_kind::group) p.group_children += t.deps.size();
    }
    // Submission order: a random permutation; each task is submitted by the outside thread
    // or by a task earlier in it, so every task is eventually submitted once its submitter
    // starts (submitters post before they wait).
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t pos = 0; pos < n; ++pos) {
        const std::size_t t = order[pos];
        if (pos == 0 || rng() % 3 == 0)
            p.from_outside.push_back(t);
        else
            p.tasks[order[rng() % pos]].submits.push_back(t);
    }
    // async from a worker may run the task inline, inside async(): only a task that waits
    // for nothing and submits nothing may be submitted that way from inside.
    for (std::size_t i = 0; i < n; ++i) p.tasks[i].by_async = rng() % 2 == 0;
    for (const task_plan& t : p.tasks)
        for (std::size_t c : t.submits)
            if (!p.tasks[c].deps.empty() || !p.tasks[c].submits.empty())
                p.tasks[c].by_async = false;
    return p;
}

/// A round in flight; every task holds it through a shared_ptr.
struct round_state {
    round_state(weft::executor& e, round_plan p)
        : ex{e},
          plan{std::move(p)},
          n{plan.tasks.size()},
          finished_promise(n),
          runs(n),
          async_mutex(n),
          async_future(n) {
        for (auto& pr : finished_promise) finished.push_back(pr.get_future());
        for (std::size_t i = 0; i < n; ++i) latches.push_back(std::make_unique<std::latch>(1));
    }

    /// The future a waiter uses for task j: its async's, once submitted so, else the
    /// promise it fulfils last.
    weft::future<void> future_of(std::size_t j) {
        {
            std::lock_guard lock{async_mutex[j]};
            if (async_future[j].valid()) return async_future[j];
        }
        return finished[j];
    }

    std::vector<weft::future<void>> futures_of(const std::vector<std::size_t>& deps) {
        std::vector<weft::future<void>> fs;
        for (std::size_t j : deps) fs.push_back(future_of(j));
        return fs;
    }

    void task_done() {
        // acq_rel: the count's reader (the test thread) sees every task's writes.
        if (done.fetch_add(1, std::memory_order_acq_rel) + 1 != n) return;
        std::lock_guard lock{m};
        cv.notify_all();
    }

    weft::executor& ex;
    const round_plan plan;
    const std::size_t n;
    std::vector<weft::promise<void>> finished_promise;  // each set by its task only
    std::vector<weft::future<void>> finished;
    std::vector<std::unique_ptr<std::latch>> latches;
    std::vector<std::atomic<int>> runs;
    std::vector<std::mutex> async_mutex;
    std::vector<weft::future<void>> async_future;  // guarded by async_mutex
    std::atomic<std::uint64_t> group_children{0};
    std::atomic<std::uint64_t> anomalies{0};
    std::atomic<std::size_t> done{0};
    std::mutex m;
    std::condition_variable cv;
};

using round_ptr = std::shared_ptr<round_state>;

void run_task(const round_ptr& r, std::size_t i);

void submit(const round_ptr& r, std::size_t i) {
    if (!r->plan.tasks[i].by_async) {
        r->ex.post([r, i] { run_task(r, i); });
        return;
    }
    weft::future<void> f = weft::async(r->ex, [r, i] { run_task(r, i); });
    std::lock_guard lock{r->async_mutex[i]};
    r->async_future[i] = std::move(f);
}

void await_deps(const round_ptr& r, const task_plan& t) {
    const std::vector<std::size_t>& deps = t.deps;
    switch (t.kind) {
        case wait_kind::get:
            for (std::size_t j : deps) r->future_of(j).get();
            break;
        case wait_kind::group: {
            weft::task_group g{r->ex};
            for (std::size_t j : deps)
                g.run([r, j] {
                    r->future_of(j).get();
                    r->group_children.fetch_add(1, std::memory_order_relaxed);
                });
            g.wait();
            break;
        }
        case wait_kind::wait_all: {
            const auto result = weft::wait(r->futures_of(deps));
            if (!result.not_done.empty() || result.done.size() != deps.size())
                r->anomalies.fetch_add(1);
            break;
        }
        case wait_kind::as_completed: {
            std::size_t seen = 0;
            for (auto& f : weft::as_completed(r->futures_of(deps))) {
                f.get();
                ++seen;
            }
            if (seen != deps.size()) r->anomalies.fetch_add(1);
            break;
        }
        case wait_kind::blocking_latch:
            for (std::size_t j : deps)
                weft::this_worker::blocking([&r, j] { r->latches[j]->wait(); });
            break;
        case wait_kind::then_chain: {
            if (deps.empty()) break;
            // then() returning the next dependency's future: unwrapped, so the chain's
            // future is done once every dependency is.
            weft::future<int> chain = r->future_of(deps[0]).then([] { return 1; });
            for (std::size_t k = 1; k < deps.size(); ++k)
                chain = chain.then([r, j = deps[k]](int v) {
                    return r->future_of(j).then([v] { return v + 1; });
                });
            if (chain.get() != static_cast<int>(deps.size())) r->anomalies.fetch_add(1);
            break;
        }
        case wait_kind::own_async:
            weft::async(r->ex, [r, deps] {
                for (std::size_t j : deps) r->future_of(j).get();
            }).get();
            break;
        case wait_kind::count:
            break;
    }
}

void run_task(const round_ptr& r, std::size_t i) {
    r->runs[i].fetch_add(1, std::memory_order_relaxed);
    const task_plan& t = r->plan.tasks[i];
    for (std::size_t c : t.submits) submit(r, c);
    await_deps(r, t);
    r->finished_promise[i].set_value();
    r->latches[i]->count_down();
    r->task_done();
}

/// The unfinished tasks of a round, for the watchdog's message.
std::string describe_unfinished(const round_state& r) {
    std::ostringstream out;
    out << "tasks finished " << r.done.load() << " of " << r.n << "; unfinished:";
    for (std::size_t i = 0; i < r.n; ++i) {
        if (r.finished[i].done()) continue;
        const task_plan& t = r.plan.tasks[i];
        out << ' ' << i << '(' << kind_name(t.kind) << (r.runs[i].load() != 0 ? ", started" : "")
            << ", deps";
        for (std::size_t j : t.deps) out << ' ' << j;
        out << ')';
    }
    return out.str();
}

/// Threads and per-worker counters, for a watchdog report.
std::string describe_executor(const weft::executor& ex) {
    std::ostringstream out;
    out << "live threads " << ex.live_thread_count() << ", spare cap hits " << ex.spare_cap_hits();
    for (const auto& s : ex.stats())
        out << "; worker " << s.index << (s.spare ? " (spare)" : "") << ": executed " << s.executed
            << ", parks " << s.parks << ", blocked " << s.blocked << ", spares started "
            << s.spares_started << ", stolen " << s.stolen << ", injected " << s.injected;
    return out.str();
}

class DependencySoupStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(DependencySoupStress, EveryTaskRunsExactlyOnce) {
    std::mutex current_mutex;
    round_ptr current;
    std::atomic<std::uint64_t> rounds_done{0};
    const std::uint64_t rounds = stress::scaled(3'000, 30);
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    stress::watchdog dog{stress::k_watchdog_limit, [&] {
                             std::lock_guard lock{current_mutex};
                             return "rounds done: " + std::to_string(rounds_done.load()) + " of " +
                                    std::to_string(rounds) +
                                    (current ? "; " + describe_unfinished(*current) : "") +
                                    "; " + describe_executor(ex);
                         }};
    std::mt19937_64 rng{stress::seed()};
    std::uint64_t tasks_run = 0;
    for (std::uint64_t round = 0; round < rounds; ++round) {
        const std::size_t n = 1 + rng() % k_round_tasks;
        auto r = std::make_shared<round_state>(ex, make_plan(rng, n));
        {
            std::lock_guard lock{current_mutex};
            current = r;
        }
        for (std::size_t i : r->plan.from_outside) submit(r, i);
        {
            std::unique_lock lock{r->m};
            r->cv.wait(lock, [&] { return r->done.load(std::memory_order_acquire) == n; });
        }
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_EQ(r->runs[i].load(), 1) << "round " << round << ", task " << i;
        ASSERT_EQ(r->group_children.load(), r->plan.group_children) << "round " << round;
        ASSERT_EQ(r->anomalies.load(), 0U) << "round " << round;
        tasks_run += n;
        {
            std::lock_guard lock{current_mutex};
            current.reset();
        }
        rounds_done.fetch_add(1, std::memory_order_relaxed);
    }
    ex.shutdown();  // inside the watchdog's watch
    std::printf("[   INFO   ] %llu rounds, %llu tasks\n", static_cast<unsigned long long>(rounds),
                static_cast<unsigned long long>(tasks_run));
}

INSTANTIATE_TEST_SUITE_P(Workers, DependencySoupStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
