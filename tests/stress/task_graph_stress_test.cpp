// Stress of task graphs: random DAGs (plain nodes, then with subflows and composed
// graphs) run again and again on 1-4 workers, each node exactly once per run and after
// all its predecessors; a random node that throws (exactly its downstream skipped) or
// blocks while the run is cancelled; one small graph reused many times; one graph run
// from four threads at once (runs queued, never overlapping); nodes that wait on runs of
// other graphs.
#include "stress_scale.hpp"

#include <weft/executor.hpp>
#include <weft/task_graph.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stress = weft::stress;

/// "`what` `n`", appended (g++ 12 warns falsely, -Wrestrict, on "literal" + std::string).
std::string progress_text(const char* what, std::uint64_t n) {
    std::string text{what};
    text += ' ';
    text += std::to_string(n);
    return text;
}

/// A flag one thread raises and another waits for (bounded, so a hang fails the test).
class latch_flag {
public:
    void raise() {
        std::lock_guard lock{m_mutex};
        m_up = true;
        m_cv.notify_all();
    }
    bool wait() {
        std::unique_lock lock{m_mutex};
        return m_cv.wait_for(lock, std::chrono::seconds{60}, [this] { return m_up; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_up = false;
};

/// Executors with 1 to 4 workers; a random test picks one per graph.
class executor_set {
public:
    executor_set() {
        for (std::size_t i = 0; i < m_ex.size(); ++i)
            m_ex[i] = std::make_unique<weft::executor>(weft::executor_options{.workers = i + 1});
    }
    weft::executor& pick(std::mt19937_64& rng) { return *m_ex[rng() % m_ex.size()]; }

private:
    std::array<std::unique_ptr<weft::executor>, 4> m_ex;
};

enum class unit_kind : std::uint8_t { task, placeholder, subflow, composed };

/// A random DAG: node kinds and forward edges (every predecessor of j is below j).
struct dag {
    std::vector<unit_kind> kinds;
    std::vector<std::vector<std::uint32_t>> preds;
};

struct dag_mix {
    unsigned subflow_percent = 0;
    unsigned composed_percent = 0;
    unsigned placeholder_percent = 5;
};

dag random_dag(std::mt19937_64& rng, std::size_t n, dag_mix mix) {
    dag d;
    d.kinds.resize(n, unit_kind::task);
    d.preds.resize(n);
    const std::uint64_t max_preds = rng() % 9;  // the graph's density: 0 (no edges) to 8
    const std::uint64_t window = 1 + rng() % 64;
    for (std::uint32_t j = 0; j < n; ++j) {
        const std::uint64_t roll = rng() % 100;
        if (roll < mix.subflow_percent)
            d.kinds[j] = unit_kind::subflow;
        else if (roll < mix.subflow_percent + mix.composed_percent)
            d.kinds[j] = unit_kind::composed;
        else if (roll < mix.subflow_percent + mix.composed_percent + mix.placeholder_percent)
            d.kinds[j] = unit_kind::placeholder;
        if (j == 0 || max_preds == 0) continue;
        const std::uint64_t count = rng() % (max_preds + 1);
        for (std::uint64_t k = 0; k < count; ++k) {
            // Half the edges are short (within `window`), half anywhere before j.
            const std::uint32_t span =
                (rng() % 2 == 0) ? static_cast<std::uint32_t>(std::min<std::uint64_t>(j, window))
                                 : j;
            const std::uint32_t i = j - 1 - static_cast<std::uint32_t>(rng() % span);
            std::vector<std::uint32_t>& p = d.preds[j];
            if (std::find(p.begin(), p.end(), i) == p.end()) p.push_back(i);
        }
    }
    return d;
}

/// Nodes reachable from `from` along edges (itself excluded).
/// A node of `d` that runs a plain task, chosen at random; none if it has no such node.
std::optional<std::uint32_t> random_task_node(const dag& d, std::mt19937_64& rng) {
    std::vector<std::uint32_t> tasks;
    for (std::uint32_t j = 0; j < d.kinds.size(); ++j)
        if (d.kinds[j] == unit_kind::task) tasks.push_back(j);
    if (tasks.empty()) return std::nullopt;
    return tasks[rng() % tasks.size()];
}

std::vector<bool> downstream_of(const dag& d, std::uint32_t from) {
    std::vector<bool> reached(d.kinds.size(), false);
    reached[from] = true;
    for (std::uint32_t j = from + 1; j < d.kinds.size(); ++j)
        for (const std::uint32_t i : d.preds[j])
            if (reached[i]) {
                reached[j] = true;
                break;
            }
    reached[from] = false;
    return reached;
}

/// The exception a failing node throws.
struct graph_failure {
    std::uint32_t node;
};

/// A task_graph built from a dag, with counters that check every run: each unit (a
/// task, a subflow with its children, a composed graph with its nodes) counts its work
/// items, and each item checks at its start that every predecessor unit has finished
/// exactly as many runs as this item is about to start (so: all of the current run,
/// nothing of the next).
class checked_graph {
public:
    checked_graph(const dag& d, std::mt19937_64& rng) : m_dag{d}, m_units(d.kinds.size()) {
        const std::size_t n = d.kinds.size();
        m_checked_preds.resize(n);
        for (std::uint32_t j = 0; j < n; ++j) {
            // A placeholder runs no code: check through it, at its own predecessors.
            for (const std::uint32_t i : d.preds[j]) {
                if (d.kinds[i] == unit_kind::placeholder)
                    m_checked_preds[j].insert(m_checked_preds[j].end(), m_checked_preds[i].begin(),
                                              m_checked_preds[i].end());
                else
                    m_checked_preds[j].push_back(i);
            }
            std::sort(m_checked_preds[j].begin(), m_checked_preds[j].end());
            m_checked_preds[j].erase(
                std::unique(m_checked_preds[j].begin(), m_checked_preds[j].end()),
                m_checked_preds[j].end());
        }
        std::vector<weft::node> nodes;
        nodes.reserve(n);
        for (std::uint32_t j = 0; j < n; ++j) nodes.push_back(make_unit(j, rng));
        for (std::uint32_t j = 0; j < n; ++j)
            for (const std::uint32_t i : d.preds[j]) nodes[i].precede(nodes[j]);
    }

    weft::task_graph& graph() { return m_graph; }
    void fail_at(std::int64_t node) { m_fail_at = node; }
    /// Node `node` signals `started` and waits for `release` (for the cancellation test).
    void block_at(std::int64_t node, latch_flag* started, latch_flag* release) {
        m_block_at = node;
        m_started = started;
        m_release = release;
    }
    const graph_failure* thrown_object() const { return m_thrown_object; }
    std::exception_ptr thrown() const { return m_thrown; }

    /// Zeroes every counter (the graph must be idle).
    void reset() {
        for (unit& u : m_units) {
            u.starts = 0;
            u.done = 0;
        }
        for (std::atomic<std::uint64_t>& c : m_item_runs) c = 0;
        m_bad_order = 0;
    }

    std::uint64_t bad_order() const { return m_bad_order.load(); }
    bool is_unit(std::uint32_t j) const { return m_dag.kinds[j] != unit_kind::placeholder; }
    /// Work items of unit j finished, and expected per run.
    std::uint64_t done(std::uint32_t j) const { return m_units[j].done.load(); }
    std::uint64_t per_run(std::uint32_t j) const { return m_units[j].per_run; }
    /// Times unit j started (a task's or subflow's callable; a composed graph's items).
    std::uint64_t starts(std::uint32_t j) const {
        if (m_dag.kinds[j] != unit_kind::composed) return m_units[j].starts.load();
        std::uint64_t s = 0;
        for (const std::size_t item : m_units[j].items) s += m_item_runs[item].load();
        return s;
    }

    /// After `runs` complete runs: every unit did all its work `runs` times, no item
    /// started before its predecessors finished, and in the last run every edge between
    /// two tasks ended before it started.
    void check_complete(std::uint64_t runs) const {
        ASSERT_EQ(bad_order(), 0U);
        for (std::uint32_t j = 0; j < m_units.size(); ++j) {
            if (!is_unit(j)) continue;
            ASSERT_EQ(done(j), runs * per_run(j)) << "node " << j;
            if (m_dag.kinds[j] != unit_kind::composed) {
                ASSERT_EQ(m_units[j].starts.load(), runs) << "node " << j;
            }
            for (const std::size_t item : m_units[j].items)
                ASSERT_EQ(m_item_runs[item].load(), runs) << "node " << j;
            if (m_dag.kinds[j] != unit_kind::task) continue;
            for (const std::uint32_t i : m_dag.preds[j]) {
                if (m_dag.kinds[i] == unit_kind::task) {
                    ASSERT_LT(m_units[i].end_seq, m_units[j].start_seq)
                        << "edge " << i << " -> " << j;
                }
            }
        }
    }

private:
    struct unit {
        std::atomic<std::uint64_t> starts{0};
        std::atomic<std::uint64_t> done{0};
        std::uint64_t per_run = 0;
        std::uint64_t start_seq = 0;  // a task's, in the last run: written by it alone
        std::uint64_t end_seq = 0;
        std::uint32_t plain_children = 0;   // a subflow's
        std::uint32_t nested_children = 0;  // a subflow's children that are subflows of 2
        std::vector<std::size_t> items;     // a composed unit's items (m_item_runs indices)
    };

    void check_preds(std::uint32_t j, std::uint64_t run) {
        for (const std::uint32_t i : m_checked_preds[j])
            if (m_units[i].done.load() != (run + 1) * m_units[i].per_run) m_bad_order.fetch_add(1);
    }

    void run_task(std::uint32_t j) {
        unit& u = m_units[j];
        check_preds(j, u.starts.fetch_add(1));
        u.start_seq = m_clock.fetch_add(1) + 1;
        if (m_fail_at == j) {
            try {
                throw graph_failure{j};
            } catch (const graph_failure& e) {
                m_thrown_object = &e;
                m_thrown = std::current_exception();
                throw;
            }
        }
        if (m_block_at == j) {
            m_started->raise();
            m_release->wait();
        }
        u.end_seq = m_clock.fetch_add(1) + 1;
        u.done.fetch_add(1);
    }

    void run_subflow(std::uint32_t j, weft::subflow& sf) {
        unit& u = m_units[j];
        check_preds(j, u.starts.fetch_add(1));
        std::vector<weft::node> kids;
        for (std::uint32_t k = 0; k < u.plain_children; ++k)
            kids.push_back(sf.emplace([&u] { u.done.fetch_add(1); }));
        for (std::uint32_t k = 0; k < u.nested_children; ++k)
            kids.push_back(sf.emplace([&u](weft::subflow& inner) {
                inner.emplace([&u] { u.done.fetch_add(1); }).precede(inner.emplace([&u] {
                    u.done.fetch_add(1);
                }));
                u.done.fetch_add(1);
            }));
        for (std::size_t k = 0; k + 1 < kids.size(); k += 2) kids[k].precede(kids[k + 1]);
        u.done.fetch_add(1);
    }

    /// One item of composed unit j, with its own run counter.
    auto composed_item(std::uint32_t j) {
        m_item_runs.emplace_back(0);
        m_units[j].items.push_back(m_item_runs.size() - 1);
        std::atomic<std::uint64_t>* runs = &m_item_runs.back();
        return [this, j, runs] {
            check_preds(j, runs->fetch_add(1));
            m_units[j].done.fetch_add(1);
        };
    }

    weft::node make_unit(std::uint32_t j, std::mt19937_64& rng) {
        unit& u = m_units[j];
        switch (m_dag.kinds[j]) {
            case unit_kind::task:
                u.per_run = 1;
                return m_graph.emplace([this, j] { run_task(j); });
            case unit_kind::placeholder:
                return m_graph.placeholder();
            case unit_kind::subflow:
                u.plain_children = static_cast<std::uint32_t>(rng() % 6);
                u.nested_children = static_cast<std::uint32_t>(rng() % 3);
                u.per_run = 1 + u.plain_children + 3 * u.nested_children;
                return m_graph.emplace([this, j](weft::subflow& sf) { run_subflow(j, sf); });
            case unit_kind::composed: {
                weft::task_graph& inner = m_inner.emplace_back();
                const std::size_t m = 1 + rng() % 4;
                std::vector<weft::node> items;
                for (std::size_t k = 0; k < m; ++k)
                    items.push_back(inner.emplace(composed_item(j)));
                for (std::size_t k = 1; k < m; ++k)
                    if (rng() % 2 == 0) items[rng() % k].precede(items[k]);
                if (rng() % 3 == 0) {  // a graph composed inside the composed graph
                    weft::task_graph& innermost = m_inner.emplace_back();
                    innermost.emplace(composed_item(j))
                        .precede(innermost.emplace(composed_item(j)));
                    items[0].precede(inner.compose(innermost));
                }
                u.per_run = u.items.size();
                return m_graph.compose(inner);
            }
        }
        return {};
    }

    const dag& m_dag;
    std::vector<std::vector<std::uint32_t>> m_checked_preds;
    std::deque<unit> m_units;
    std::deque<std::atomic<std::uint64_t>> m_item_runs;
    std::atomic<std::uint64_t> m_clock{0};
    std::atomic<std::uint64_t> m_bad_order{0};
    std::int64_t m_fail_at = -1;  // set while the graph is idle
    std::int64_t m_block_at = -1;
    latch_flag* m_started = nullptr;
    latch_flag* m_release = nullptr;
    const graph_failure* m_thrown_object = nullptr;  // written by the failing node
    std::exception_ptr m_thrown;
    std::deque<weft::task_graph> m_inner;  // before m_graph: destroyed after it
    weft::task_graph m_graph;
};

/// Builds random DAGs of `mix` and runs each 5 times: run_n(2), run() and run_until() for
/// 2 more, started at once (so the later ones queue), then waited for.
void random_dags(std::uint64_t graphs, std::size_t max_nodes, dag_mix mix) {
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return progress_text("graph", progress.load()); }};
    std::mt19937_64 rng{stress::seed()};
    executor_set executors;
    for (std::uint64_t gi = 0; gi < graphs; ++gi) {
        progress = gi;
        const dag d = random_dag(rng, 1 + rng() % max_nodes, mix);
        checked_graph g{d, rng};
        weft::executor& ex = executors.pick(rng);
        int asked = 0;  // plain: pred never runs at once with itself
        const weft::future<void> series = g.graph().run_n(ex, 2);
        const weft::future<void> single = g.graph().run(ex);
        const weft::future<void> until = g.graph().run_until(ex, [&asked] { return asked++ == 2; });
        series.get();
        single.get();
        until.get();
        ASSERT_NO_FATAL_FAILURE(g.check_complete(5))
            << "graph " << gi << " of " << d.kinds.size() << " nodes";
    }
}

TEST(TaskGraphStress, RandomDagsRunEveryNodeOncePerRunAfterItsPredecessors) {
    random_dags(stress::scaled(1'000, 20), 1'000, dag_mix{});
}

TEST(TaskGraphStress, RandomDagsWithSubflowsAndComposedGraphs) {
    random_dags(stress::scaled(1'000, 10), 1'000,
                dag_mix{.subflow_percent = 5, .composed_percent = 3});
}

// A random task throws: exactly the nodes downstream of it are skipped, every other node
// runs once, the run ends with that very exception, and the next run completes.
TEST(TaskGraphStress, RandomDagsWithAFailingNodeSkipExactlyItsDownstream) {
    const std::uint64_t graphs = stress::scaled(1'000, 10);
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return progress_text("graph", progress.load()); }};
    std::mt19937_64 rng{stress::seed()};
    executor_set executors;
    for (std::uint64_t gi = 0; gi < graphs; ++gi) {
        progress = gi;
        const dag d =
            random_dag(rng, 1 + rng() % 500, dag_mix{.subflow_percent = 3, .composed_percent = 2});
        const std::optional<std::uint32_t> picked = random_task_node(d, rng);
        if (!picked) continue;
        const std::uint32_t bad = *picked;
        const std::vector<bool> skipped = downstream_of(d, bad);
        checked_graph g{d, rng};
        weft::executor& ex = executors.pick(rng);
        g.fail_at(bad);
        const weft::future<void> run = g.graph().run(ex);
        try {
            run.get();
            FAIL() << "graph " << gi << ": the run did not fail";
        } catch (const graph_failure& e) {
            ASSERT_EQ(&e, g.thrown_object()) << "graph " << gi;
            ASSERT_EQ(e.node, bad);
        }
        ASSERT_TRUE(run.exception() == g.thrown());
        ASSERT_EQ(g.bad_order(), 0U) << "graph " << gi;
        for (std::uint32_t j = 0; j < d.kinds.size(); ++j) {
            if (!g.is_unit(j)) continue;
            if (j == bad) {
                ASSERT_EQ(g.starts(j), 1U);
                ASSERT_EQ(g.done(j), 0U);
            } else if (skipped[j]) {
                ASSERT_EQ(g.starts(j), 0U)
                    << "graph " << gi << ": node " << j << " is downstream of " << bad;
                ASSERT_EQ(g.done(j), 0U) << "graph " << gi << ": node " << j;
            } else {
                ASSERT_EQ(g.done(j), g.per_run(j))
                    << "graph " << gi << ": node " << j << " is independent of " << bad;
            }
        }
        g.reset();
        g.fail_at(-1);
        g.graph().run(ex).get();
        ASSERT_NO_FATAL_FAILURE(g.check_complete(1)) << "graph " << gi << " after a failed run";
    }
}

// A random task blocks until the run's future is cancelled: nothing downstream of it
// runs, nothing runs twice or early, the future ends cancelled, and the next run completes.
TEST(TaskGraphStress, RandomDagsCancelledMidRun) {
    const std::uint64_t graphs = stress::scaled(1'000, 10);
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return progress_text("graph", progress.load()); }};
    std::mt19937_64 rng{stress::seed()};
    executor_set executors;
    for (std::uint64_t gi = 0; gi < graphs; ++gi) {
        progress = gi;
        const dag d =
            random_dag(rng, 1 + rng() % 500, dag_mix{.subflow_percent = 3, .composed_percent = 2});
        const std::optional<std::uint32_t> picked = random_task_node(d, rng);
        if (!picked) continue;
        const std::uint32_t blocker = *picked;
        const std::vector<bool> skipped = downstream_of(d, blocker);
        checked_graph g{d, rng};
        weft::executor& ex = executors.pick(rng);
        latch_flag started, release;
        g.block_at(blocker, &started, &release);
        const weft::future<void> run = g.graph().run(ex);
        const bool blocked = started.wait();
        const bool cancelled = run.cancel();
        release.raise();
        ASSERT_TRUE(blocked) << "graph " << gi;
        ASSERT_TRUE(cancelled) << "graph " << gi;
        ASSERT_THROW(run.get(), weft::cancelled_error) << "graph " << gi;
        ASSERT_EQ(g.bad_order(), 0U) << "graph " << gi;
        ASSERT_EQ(g.done(blocker), 1U) << "graph " << gi << ": the running node finishes";
        for (std::uint32_t j = 0; j < d.kinds.size(); ++j) {
            if (!g.is_unit(j)) continue;
            ASSERT_LE(g.done(j), g.per_run(j)) << "graph " << gi << ": node " << j;
            if (skipped[j]) {
                ASSERT_EQ(g.starts(j), 0U)
                    << "graph " << gi << ": node " << j << " after " << blocker;
            }
            if (d.kinds[j] == unit_kind::task) {
                ASSERT_EQ(g.starts(j), g.done(j)) << "graph " << gi << ": node " << j;
            }
        }
        g.reset();
        g.block_at(-1, nullptr, nullptr);
        g.graph().run(ex).get();
        ASSERT_NO_FATAL_FAILURE(g.check_complete(1)) << "graph " << gi << " after a cancelled run";
    }
}

class TaskGraphReuseStress : public ::testing::TestWithParam<std::size_t> {};

// One small graph of every kind of node, run again and again: a diamond, a subflow, a
// condition loop, a composed graph. The sink checks each run was whole.
TEST_P(TaskGraphReuseStress, SmallGraphReusedManyTimesCountsExactly) {
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return progress_text("run", progress.load()); }};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    constexpr int k_loop = 3;
    std::uint64_t source = 0, sink = 0;  // plain: runs are in sequence
    std::atomic<std::uint64_t> a{0}, b{0}, kids{0}, body{0}, inner_ran{0}, broken{0};
    int i = 0;
    weft::task_graph inner;
    inner.emplace([&] { inner_ran.fetch_add(1); }).precede(inner.emplace([&] {
        inner_ran.fetch_add(1);
    }));
    weft::task_graph g;
    weft::node src = g.emplace([&] {
        if (sink != source) broken.fetch_add(1);
        ++source;
    });
    auto [na, nb] = g.emplace([&] { a.fetch_add(1); }, [&] { b.fetch_add(1); });
    weft::node sub = g.emplace([&](weft::subflow& sf) {
        sf.emplace([&] { kids.fetch_add(1); }).precede(sf.emplace([&] { kids.fetch_add(1); }));
    });
    weft::node init = g.emplace([&] { i = 0; });
    weft::node loop = g.emplace([&] {
        ++i;
        body.fetch_add(1);
    });
    weft::node cond = g.emplace_condition([&] { return i < k_loop ? 0 : 1; });
    weft::node composed = g.compose(inner);
    weft::node last = g.emplace([&] {
        if (a.load() != source || b.load() != source || kids.load() != 2 * source ||
            body.load() != k_loop * source || inner_ran.load() != 2 * source)
            broken.fetch_add(1);
        ++sink;
    });
    src.precede(na, nb);
    sub.succeed(na, nb);
    sub.precede(init);
    init.precede(loop);
    loop.precede(cond);
    cond.precede(loop, composed);
    composed.precede(last);
    const std::uint64_t rounds = stress::scaled(3'000, 10);  // 10 runs each: 3 * 10^4 at scale 1
    for (std::uint64_t r = 0; r < rounds; ++r) {
        progress = r * 10;
        if (r % 2 == 0) {
            g.run_n(ex, 9).get();
            g.run(ex).get();
        } else {
            g.run_n(ex, 10).get();
        }
        ASSERT_EQ(sink, 10 * (r + 1));
    }
    const std::uint64_t runs = 10 * rounds;
    EXPECT_EQ(broken.load(), 0U);
    EXPECT_EQ(source, runs);
    EXPECT_EQ(a.load(), runs);
    EXPECT_EQ(b.load(), runs);
    EXPECT_EQ(kids.load(), 2 * runs);
    EXPECT_EQ(body.load(), k_loop * runs);
    EXPECT_EQ(inner_ran.load(), 2 * runs);
}

INSTANTIATE_TEST_SUITE_P(Workers, TaskGraphReuseStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

class TaskGraphThreadsStress : public ::testing::TestWithParam<std::size_t> {};

// Four threads run the same graph at once: the runs queue and never overlap (the source
// raises an "in run" flag that the sink lowers; every node checks it), each run is whole
// when its sink runs, and a completed future implies its run's sink has run.
TEST_P(TaskGraphThreadsStress, OneGraphRunFromFourThreadsNeverOverlaps) {
    stress::watchdog dog{stress::k_watchdog_limit};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    constexpr int k_threads = 4;
    constexpr std::uint64_t k_middle = 16;
    std::atomic<bool> in_run{false};
    std::atomic<std::uint64_t> overlaps{0}, outside{0}, middle_done{0}, sinks{0}, completed{0},
        lagging{0}, partial{0}, middles{0};
    weft::task_graph g;
    weft::node source = g.emplace([&] {
        if (in_run.exchange(true)) overlaps.fetch_add(1);
    });
    weft::node sink = g.emplace([&] {
        if (middle_done.exchange(0) != k_middle) partial.fetch_add(1);
        sinks.fetch_add(1);
        if (!in_run.exchange(false)) outside.fetch_add(1);
    });
    for (std::uint64_t m = 0; m < k_middle; ++m) {
        weft::node mid = g.emplace([&] {
            if (!in_run.load()) outside.fetch_add(1);
            middles.fetch_add(1);
            middle_done.fetch_add(1);
        });
        source.precede(mid);
        mid.precede(sink);
    }
    const std::uint64_t rounds = stress::scaled(3'000, 10);
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t)
        threads.emplace_back([&, t] {
            for (std::uint64_t r = 0; r < rounds; ++r) {
                const weft::future<void> f1 = g.run(ex);
                const weft::future<void> f2 =
                    (r + static_cast<std::uint64_t>(t)) % 3 == 0 ? g.run_n(ex, 2) : g.run(ex);
                f1.get();
                f2.get();
                completed.fetch_add((r + static_cast<std::uint64_t>(t)) % 3 == 0 ? 3 : 2);
                const std::uint64_t finished = completed.load();  // read first: sinks only grows
                if (sinks.load() < finished) lagging.fetch_add(1);
            }
        });
    for (std::thread& th : threads) th.join();
    std::uint64_t expected_runs = 0;
    for (int t = 0; t < k_threads; ++t)
        for (std::uint64_t r = 0; r < rounds; ++r)
            expected_runs += (r + static_cast<std::uint64_t>(t)) % 3 == 0 ? 3 : 2;
    EXPECT_EQ(overlaps.load(), 0U);
    EXPECT_EQ(outside.load(), 0U);
    EXPECT_EQ(partial.load(), 0U);
    EXPECT_EQ(lagging.load(), 0U);
    EXPECT_EQ(sinks.load(), expected_runs);
    EXPECT_EQ(middles.load(), expected_runs * k_middle);
    EXPECT_FALSE(g.running());
}

// Four threads, each with its own random DAG, run at once on one executor.
TEST_P(TaskGraphThreadsStress, ManyGraphsFromManyThreadsAtOnce) {
    stress::watchdog dog{stress::k_watchdog_limit};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t base_seed = stress::seed();
    const std::uint64_t graphs = stress::scaled(300, 4);
    std::vector<std::thread> threads;
    std::atomic<std::uint64_t> failures{0};
    for (std::uint64_t t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            std::mt19937_64 rng{base_seed + t};
            for (std::uint64_t gi = 0; gi < graphs; ++gi) {
                const dag d = random_dag(rng, 1 + rng() % 300,
                                         dag_mix{.subflow_percent = 3, .composed_percent = 2});
                checked_graph g{d, rng};
                g.graph().run_n(ex, 2).get();
                g.graph().run(ex).get();
                if (g.bad_order() != 0) failures.fetch_add(1);
                for (std::uint32_t j = 0; j < d.kinds.size(); ++j)
                    if (g.is_unit(j) && g.done(j) != 3 * g.per_run(j)) failures.fetch_add(1);
            }
        });
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0U);
}

INSTANTIATE_TEST_SUITE_P(Workers, TaskGraphThreadsStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

class TaskGraphNestedWaitStress : public ::testing::TestWithParam<std::size_t> {};

// Every node of an outer graph runs a graph of its own and waits for it, each of those
// runs a third: waits nested on the workers, which must not deadlock on one worker.
TEST_P(TaskGraphNestedWaitStress, NodesWaitOnRunsOfOtherGraphs) {
    stress::watchdog dog{stress::k_watchdog_limit};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    constexpr std::size_t k_width = 16;
    std::atomic<std::uint64_t> leaves{0};
    std::deque<weft::task_graph> leaf_graphs, middle_graphs;
    weft::task_graph top;
    for (std::size_t i = 0; i < k_width; ++i) {
        weft::task_graph& leaf = leaf_graphs.emplace_back();
        leaf.emplace([&] { leaves.fetch_add(1); }).precede(leaf.emplace([&] {
            leaves.fetch_add(1);
        }));
        weft::task_graph& middle = middle_graphs.emplace_back();
        middle.emplace([&ex, &leaf] { leaf.run(ex).get(); });
        top.emplace([&ex, &middle] { middle.run(ex).get(); });
    }
    const std::uint64_t rounds = stress::scaled(3'000, 5);
    for (std::uint64_t r = 0; r < rounds; ++r) {
        top.run(ex).get();
        ASSERT_EQ(leaves.load(), 2 * k_width * (r + 1));
    }
}

INSTANTIATE_TEST_SUITE_P(Workers, TaskGraphNestedWaitStress, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
