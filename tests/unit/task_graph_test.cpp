// weft::task_graph: building, order of nodes, subflows, composition, conditions, repeated
// runs, waits from inside the executor, DOT output, and allocations per run.
// Errors, exceptions and cancellation are in task_graph_error_test.cpp.
#include "test_signal.hpp"

#include <weft/executor.hpp>
#include <weft/future.hpp>
#include <weft/task_graph.hpp>
#include <weft/task_group.hpp>
#include <weft/when_all.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <limits>
#include <memory>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "counting_new.hpp"

namespace {

/// Start and end sequence numbers of traced nodes, from one clock. A slot is written by
/// its node alone and read after the run's future completes (plain fields on purpose:
/// ThreadSanitizer checks that the future orders them).
class trace {
public:
    struct slot {
        std::uint64_t start = 0;
        std::uint64_t end = 0;
        std::atomic<std::uint64_t> runs{0};
    };

    /// A new slot (references to slots stay valid: a deque never moves its elements).
    std::size_t add() {
        m_slots.emplace_back();
        return m_slots.size() - 1;
    }
    void enter(std::size_t i) {
        slot& s = m_slots[i];
        s.start = m_clock.fetch_add(1) + 1;
        s.runs.fetch_add(1);
    }
    void leave(std::size_t i) { m_slots[i].end = m_clock.fetch_add(1) + 1; }
    /// A node's callable that records slot `i`.
    auto body(std::size_t i) {
        return [this, i] {
            enter(i);
            leave(i);
        };
    }
    /// Slot `b` must start after slot `a` ended.
    void edge(std::size_t a, std::size_t b) { m_edges.emplace_back(a, b); }
    std::uint64_t runs(std::size_t i) const { return m_slots[i].runs.load(); }
    std::size_t size() const { return m_slots.size(); }

    /// Every slot ran `runs` times, and in the last run each edge's end came before the
    /// start it leads to.
    void check(std::uint64_t runs) const {
        for (std::size_t i = 0; i < m_slots.size(); ++i)
            ASSERT_EQ(m_slots[i].runs.load(), runs) << "slot " << i;
        for (const auto& [a, b] : m_edges)
            ASSERT_LT(m_slots[a].end, m_slots[b].start) << "edge " << a << " -> " << b;
    }

private:
    std::atomic<std::uint64_t> m_clock{0};
    std::deque<slot> m_slots;
    std::vector<std::pair<std::size_t, std::size_t>> m_edges;
};

/// A graph of traced task nodes: nodes[i] records slot i.
struct traced_graph {
    trace t;  // before graph: outlives the callables that point to it
    weft::task_graph graph;
    std::vector<weft::node> nodes;

    weft::node add() {
        const std::size_t i = t.add();
        std::string name{
            "n"};  // appended, not "n" + ...: g++ 12 warns falsely (-Wrestrict) on that
        name += std::to_string(i);
        nodes.push_back(graph.emplace(t.body(i)).name(name));
        return nodes.back();
    }
    void link(std::size_t a, std::size_t b) {
        nodes[a].precede(nodes[b]);
        t.edge(a, b);
    }
};

void plain_function() {}
int pick_second() {
    return 1;
}

// ---------------------------------------------------------------------------------------
// Building (no runs).

TEST(TaskGraphBuild, EachEmplaceMakesTheKindItsCallableAsks) {
    weft::task_graph inner;
    weft::task_graph g{"kinds"};
    EXPECT_TRUE(g.empty());
    weft::node t = g.emplace([] {});
    weft::node s = g.emplace([](weft::subflow&) {});
    weft::node c = g.emplace_condition([] { return 0; });
    weft::node p = g.placeholder();
    weft::node k = g.compose(inner);
    weft::node f = g.emplace(&plain_function);
    weft::node fc = g.emplace_condition(&pick_second);
    EXPECT_EQ(t.kind(), weft::node_kind::task);
    EXPECT_EQ(s.kind(), weft::node_kind::subflow);
    EXPECT_EQ(c.kind(), weft::node_kind::condition);
    EXPECT_EQ(p.kind(), weft::node_kind::placeholder);
    EXPECT_EQ(k.kind(), weft::node_kind::composed);
    EXPECT_EQ(f.kind(), weft::node_kind::task);
    EXPECT_EQ(fc.kind(), weft::node_kind::condition);
    EXPECT_EQ(g.size(), 7U);
    EXPECT_FALSE(g.empty());
    EXPECT_TRUE(inner.empty());
    EXPECT_EQ(g.name(), "kinds");
    weft::task_graph named{"stage"};
    EXPECT_EQ(g.compose(named).name(), "stage");  // named after the composed graph until renamed
    g.name("renamed");
    EXPECT_EQ(g.name(), "renamed");
}

TEST(TaskGraphBuild, EmplaceOfSeveralReturnsTheirNodesInOrder) {
    weft::task_graph g;
    auto [a, b, c] = g.emplace([] {}, [](weft::subflow&) {}, [] {});
    const std::tuple<weft::node, weft::node> pair = g.emplace([] {}, [] {});
    EXPECT_FALSE(std::get<0>(pair) == std::get<1>(pair));
    EXPECT_EQ(a.kind(), weft::node_kind::task);
    EXPECT_EQ(b.kind(), weft::node_kind::subflow);
    EXPECT_EQ(c.kind(), weft::node_kind::task);
    EXPECT_FALSE(a == b);
    EXPECT_FALSE(b == c);
    EXPECT_EQ(g.size(), 5U);
}

TEST(TaskGraphBuild, EdgesCountStrongAndWeakPredecessors) {
    weft::task_graph g;
    auto [a, b, c, d] = g.emplace([] {}, [] {}, [] {}, [] {});
    weft::node cond = g.emplace_condition([] { return 0; });
    a.precede(b, c);
    d.succeed(b, c);
    cond.precede(d, a);  // weak edges
    EXPECT_EQ(a.num_successors(), 2U);
    EXPECT_EQ(cond.num_successors(), 2U);
    EXPECT_EQ(d.num_predecessors(), 3U);
    EXPECT_EQ(d.num_strong_predecessors(), 2U);
    EXPECT_EQ(d.num_weak_predecessors(), 1U);
    EXPECT_EQ(a.num_strong_predecessors(), 0U);
    EXPECT_EQ(a.num_weak_predecessors(), 1U);
    EXPECT_EQ(b.num_predecessors(), 1U);
    EXPECT_EQ(d.num_successors(), 0U);

    std::vector<weft::node> many;
    for (int i = 0; i < 10; ++i) many.push_back(g.emplace([] {}));
    weft::node from = g.placeholder();
    weft::node to = g.placeholder();
    from.precede(many);
    to.succeed(many);
    EXPECT_EQ(from.num_successors(), 10U);
    EXPECT_EQ(to.num_strong_predecessors(), 10U);
    for (const weft::node& n : many) EXPECT_EQ(n.num_predecessors(), 1U);
}

TEST(TaskGraphBuild, NamesAndIdentity) {
    weft::task_graph g;
    weft::node a = g.emplace([] {});
    EXPECT_EQ(a.name(), "");
    weft::node& same = a.name("load");
    EXPECT_EQ(&same, &a);
    EXPECT_EQ(a.name(), "load");
    weft::node copy = a;
    EXPECT_TRUE(copy == a);
    EXPECT_EQ(copy.name(), "load");
    weft::node b = g.emplace([] {});
    EXPECT_FALSE(a == b);
    weft::node empty1;
    weft::node empty2;
    EXPECT_FALSE(empty1.valid());
    EXPECT_TRUE(a.valid());
    EXPECT_TRUE(empty1 == empty2);
    EXPECT_FALSE(empty1 == a);
}

TEST(TaskGraphBuild, ValidateAcceptsDagsLoopsThroughConditionsAndTheEmptyGraph) {
    weft::task_graph g;
    EXPECT_NO_THROW(g.validate());
    auto [init, body] = g.emplace([] {}, [] {});
    weft::node cond = g.emplace_condition([] { return 1; });
    weft::node done = g.placeholder();
    init.precede(body);
    body.precede(cond);
    cond.precede(body, done);
    EXPECT_NO_THROW(g.validate());
}

TEST(TaskGraphBuild, ClearDestroysTheCallablesAndTheGraphIsReusable) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    auto token = std::make_shared<int>(0);
    std::atomic<int> ran{0};
    weft::task_graph g;
    g.emplace([token, &ran] { ran.fetch_add(1); }).precede(g.emplace([token] {}));
    EXPECT_EQ(token.use_count(), 3);
    g.clear();
    EXPECT_EQ(token.use_count(), 1);
    EXPECT_TRUE(g.empty());
    g.run(ex).get();
    EXPECT_EQ(ran.load(), 0);
    g.emplace([&ran] { ran.fetch_add(1); });
    g.run(ex).get();
    EXPECT_EQ(ran.load(), 1);
}

TEST(TaskGraphBuild, LargeAndMoveOnlyCallablesRunAndAreDestroyedWithTheGraph) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    auto token = std::make_shared<int>(0);
    std::array<std::uint64_t, 32> big{};
    big.fill(3);
    std::uint64_t big_sum = 0;
    int moved_value = 0;
    {
        weft::task_graph g;
        g.emplace([big, &big_sum, token] {
            big_sum = 0;
            for (const std::uint64_t v : big) big_sum += v;
        });
        g.emplace([p = std::make_unique<int>(7), &moved_value] { moved_value = *p; });
        g.emplace([token](weft::subflow& sf) { sf.emplace([token] {}); });
        g.run(ex).get();
        EXPECT_EQ(big_sum, 96U);
        EXPECT_EQ(moved_value, 7);
        EXPECT_GE(token.use_count(), 3);
    }
    EXPECT_EQ(token.use_count(), 1);
}

TEST(TaskGraphBuild, MovedGraphKeepsItsNodeHandles) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    std::atomic<int> ran{0};
    weft::task_graph a;
    weft::node n = a.emplace([&] { ran.fetch_add(1); }).name("n");
    weft::task_graph b{std::move(a)};
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented to be left empty
    EXPECT_EQ(b.size(), 1U);
    EXPECT_EQ(n.name(), "n");
    n.precede(b.emplace([&] { ran.fetch_add(1); }));
    b.run(ex).get();
    EXPECT_EQ(ran.load(), 2);
    weft::task_graph c;
    c.emplace([&] { ran.fetch_add(100); });
    c = std::move(b);
    EXPECT_EQ(c.size(), 2U);
    c.run(ex).get();
    EXPECT_EQ(ran.load(), 4);
    a.emplace([&] { ran.fetch_add(10); });  // the moved-from graph is an empty, usable graph
    a.run(ex).get();
    EXPECT_EQ(ran.load(), 14);
}

// ---------------------------------------------------------------------------------------
// Runs, on 1, 2 and 4 workers.

class TaskGraphTest : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

TEST_P(TaskGraphTest, DiamondRunsEachNodeOnceAfterItsPredecessors) {
    traced_graph tg;
    for (int i = 0; i < 4; ++i) tg.add();
    tg.link(0, 1);
    tg.link(0, 2);
    tg.link(1, 3);
    tg.link(2, 3);
    EXPECT_EQ(tg.nodes[3].num_strong_predecessors(), 2U);
    for (std::uint64_t r = 1; r <= 3; ++r) {
        tg.graph.run(m_ex).get();
        tg.t.check(r);
    }
}

TEST_P(TaskGraphTest, ValuesWrittenByANodeAreSeenByItsSuccessorsAndAfterTheRun) {
    int x = 0, y = 0, z = 0, w = 0;  // plain: edges and the run's future order them
    weft::task_graph g;
    auto [a, b, c, d] =
        g.emplace([&] { x = 1; }, [&] { y = x + 1; }, [&] { z = x + 2; }, [&] { w = y + z; });
    a.precede(b, c);
    d.succeed(b, c);
    for (int r = 0; r < 3; ++r) {
        x = y = z = w = 0;
        g.run(m_ex).get();
        EXPECT_EQ(w, 5);
    }
}

// Plain nodes may fork and join, and wait on futures, on the run's own executor (at 1
// worker too: a wait runs only what it awaits, or blocks with a spare worker).
TEST_P(TaskGraphTest, NodesUseTaskGroupsAndFuturesInside) {
    weft::task_graph g;
    std::atomic<long> forked{0};
    long from_futures = 0;
    long seen_after = -1;
    weft::node fork_join = g.emplace([&] {
        weft::task_group tg{m_ex};
        for (int i = 0; i < 100; ++i) tg.run([&] { forked.fetch_add(1); });
        tg.wait();
    });
    weft::node futures = g.emplace([&] {
        std::vector<weft::future<long>> fs;
        for (long i = 1; i <= 20; ++i) fs.push_back(weft::async(m_ex, [i] { return i * i; }));
        for (long v : weft::when_all_values(std::move(fs)).get()) from_futures += v;
    });
    weft::node after = g.emplace([&] { seen_after = forked.load() + from_futures; });
    after.succeed(fork_join, futures);
    for (int round = 1; round <= 3; ++round) {
        from_futures = 0;
        g.run(m_ex).get();
        EXPECT_EQ(forked.load(), 100L * round);
        EXPECT_EQ(from_futures, 2870);  // 1^2 + ... + 20^2
        EXPECT_EQ(seen_after, 100L * round + 2870);
    }
}

TEST_P(TaskGraphTest, ChainRunsInOrder) {
    traced_graph tg;
    constexpr std::size_t k_n = 200;
    for (std::size_t i = 0; i < k_n; ++i) tg.add();
    for (std::size_t i = 0; i + 1 < k_n; ++i) tg.link(i, i + 1);
    tg.graph.run(m_ex).get();
    tg.t.check(1);
    tg.graph.run(m_ex).get();
    tg.t.check(2);
}

TEST_P(TaskGraphTest, WideFanOutAndFanIn) {
    traced_graph tg;
    constexpr std::size_t k_width = 1000;
    tg.add();
    for (std::size_t i = 0; i < k_width; ++i) tg.add();
    tg.add();
    for (std::size_t i = 1; i <= k_width; ++i) {
        tg.link(0, i);
        tg.link(i, k_width + 1);
    }
    EXPECT_EQ(tg.nodes[0].num_successors(), k_width);
    EXPECT_EQ(tg.nodes[k_width + 1].num_strong_predecessors(), k_width);
    tg.graph.run(m_ex).get();
    tg.t.check(1);
    tg.graph.run(m_ex).get();
    tg.t.check(2);
}

TEST_P(TaskGraphTest, RandomLayeredDagWithManySourcesAndSinks) {
    traced_graph tg;
    std::mt19937 rng{12345};
    constexpr std::size_t k_n = 300;
    for (std::size_t i = 0; i < k_n; ++i) tg.add();
    for (std::size_t j = 1; j < k_n; ++j) {
        std::vector<std::size_t> preds;
        const std::size_t count = rng() % 4;
        for (std::size_t k = 0; k < count; ++k) {
            const std::size_t i = rng() % j;
            if (std::find(preds.begin(), preds.end(), i) == preds.end()) preds.push_back(i);
        }
        for (const std::size_t i : preds) tg.link(i, j);
    }
    tg.graph.run_n(m_ex, 3).get();
    tg.t.check(3);
}

TEST_P(TaskGraphTest, PlaceholdersJoinBranches) {
    traced_graph tg;
    for (int i = 0; i < 4; ++i) tg.add();
    weft::node join = tg.graph.placeholder();
    join.succeed(tg.nodes[0], tg.nodes[1]);
    join.precede(tg.nodes[2], tg.nodes[3]);
    for (std::size_t a : {0, 1})
        for (std::size_t b : {2, 3}) tg.t.edge(a, b);
    tg.graph.run(m_ex).get();
    tg.t.check(1);
}

// A subflow node's children run after its callable returns; its successors run after
// all of them. Subflows are made afresh each run.
TEST_P(TaskGraphTest, SubflowChildrenRunBetweenTheNodeAndItsSuccessors) {
    trace t;
    const std::size_t before = t.add(), parent = t.add(), after = t.add();
    std::vector<std::size_t> kids;
    for (int i = 0; i < 10; ++i) kids.push_back(t.add());
    weft::task_graph g;
    weft::node a = g.emplace(t.body(before));
    weft::node s = g.emplace([&](weft::subflow& sf) {
        t.enter(parent);
        std::vector<weft::node> made;
        for (const std::size_t k : kids) made.push_back(sf.emplace(t.body(k)).name("kid"));
        for (std::size_t i = 0; i + 1 < made.size(); i += 2)
            made[i].precede(made[i + 1]);  // internal edges
        t.leave(parent);
    });
    weft::node b = g.emplace(t.body(after));
    a.precede(s);
    s.precede(b);
    t.edge(before, parent);
    for (std::size_t i = 0; i < kids.size(); ++i) {
        t.edge(parent, kids[i]);
        t.edge(kids[i], after);
        if (i % 2 == 0) t.edge(kids[i], kids[i + 1]);
    }
    for (std::uint64_t r = 1; r <= 3; ++r) {
        g.run(m_ex).get();
        t.check(r);
    }
    EXPECT_EQ(g.size(), 3U) << "a subflow's nodes are not nodes of the graph";
}

TEST_P(TaskGraphTest, NestedSubflowsJoinBeforeTheOuterSuccessor) {
    trace t;
    const std::size_t outer = t.add(), middle = t.add(), leaf1 = t.add(), leaf2 = t.add(),
                      sibling = t.add(), after = t.add();
    weft::task_graph g;
    weft::node s = g.emplace([&](weft::subflow& sf) {
        t.enter(outer);
        sf.emplace([&](weft::subflow& inner) {
            t.enter(middle);
            inner.emplace(t.body(leaf1)).precede(inner.emplace(t.body(leaf2)));
            t.leave(middle);
        });
        sf.emplace(t.body(sibling));
        t.leave(outer);
    });
    s.precede(g.emplace(t.body(after)));
    for (const std::size_t k : {middle, sibling}) t.edge(outer, k);
    t.edge(middle, leaf1);
    t.edge(leaf1, leaf2);
    for (const std::size_t k : {middle, leaf1, leaf2, sibling}) t.edge(k, after);
    g.run_n(m_ex, 2).get();
    t.check(2);
    g.run(m_ex).get();
    t.check(3);
}

TEST_P(TaskGraphTest, EmptySubflowStillOrdersItsNeighbours) {
    traced_graph tg;
    tg.add();
    std::atomic<int> calls{0};
    weft::node s = tg.graph.emplace([&](weft::subflow& sf) {
        calls.fetch_add(1);
        EXPECT_TRUE(sf.empty());
    });
    tg.add();
    tg.nodes[0].precede(s);
    s.precede(tg.nodes[1]);
    tg.t.edge(0, 1);
    tg.graph.run_n(m_ex, 2).get();
    tg.t.check(2);
    EXPECT_EQ(calls.load(), 2);
}

TEST_P(TaskGraphTest, SubflowMayHoldConditionsAndComposedGraphs) {
    std::atomic<int> inner_ran{0}, loop_body{0}, after{0};
    weft::task_graph inner;
    inner.emplace([&] { inner_ran.fetch_add(1); });
    weft::task_graph g;
    weft::node s = g.emplace([&](weft::subflow& sf) {
        auto i = std::make_shared<int>(0);  // the loop's counter, made afresh each run
        weft::node init = sf.placeholder();
        weft::node body = sf.emplace([&loop_body, i] {
            ++*i;
            loop_body.fetch_add(1);
        });
        weft::node cond = sf.emplace_condition([i] { return *i < 5 ? 0 : 1; });
        weft::node exit = sf.placeholder();
        init.precede(body);
        body.precede(cond);
        cond.precede(body, exit);
        sf.compose(inner);
    });
    s.precede(g.emplace([&] {
        EXPECT_EQ(loop_body.load() % 5, 0);
        after.fetch_add(1);
    }));
    g.run_n(m_ex, 2).get();
    EXPECT_EQ(inner_ran.load(), 2);
    EXPECT_EQ(loop_body.load(), 10);
    EXPECT_EQ(after.load(), 2);
}

// ---------------------------------------------------------------------------------------
// Composition.

TEST_P(TaskGraphTest, ComposedGraphRunsAsOneNode) {
    trace t;
    weft::task_graph inner{"inner"};
    std::vector<std::size_t> in;
    std::vector<weft::node> in_nodes;
    for (int i = 0; i < 4; ++i) {
        in.push_back(t.add());
        in_nodes.push_back(inner.emplace(t.body(in.back())));
    }
    in_nodes[0].precede(in_nodes[1], in_nodes[2]);
    in_nodes[3].succeed(in_nodes[1], in_nodes[2]);
    t.edge(in[0], in[1]);
    t.edge(in[0], in[2]);
    t.edge(in[1], in[3]);
    t.edge(in[2], in[3]);
    weft::task_graph outer{"outer"};
    const std::size_t before = t.add(), after = t.add(), side = t.add();
    weft::node k = outer.compose(inner).name("inner_node");
    outer.emplace(t.body(before)).precede(k);
    k.precede(outer.emplace(t.body(after)));
    outer.emplace(t.body(side));
    for (const std::size_t i : in) {
        t.edge(before, i);
        t.edge(i, after);
    }
    outer.run(m_ex).get();
    t.check(1);
    outer.run_n(m_ex, 2).get();
    t.check(3);
    inner.run(m_ex).get();  // still a graph of its own
    for (const std::size_t i : in) EXPECT_EQ(t.runs(i), 4U);
    EXPECT_EQ(t.runs(before), 3U);
}

TEST_P(TaskGraphTest, NestedCompositionKeepsEveryLevelsOrder) {
    trace t;
    weft::task_graph c{"c"}, b{"b"}, a{"a"};
    const std::size_t c0 = t.add(), c1 = t.add(), b0 = t.add(), b1 = t.add(), a0 = t.add(),
                      a1 = t.add();
    c.emplace(t.body(c0)).precede(c.emplace(t.body(c1)));
    weft::node kb = b.compose(c);
    b.emplace(t.body(b0)).precede(kb);
    kb.precede(b.emplace(t.body(b1)));
    weft::node ka = a.compose(b);
    a.emplace(t.body(a0)).precede(ka);
    ka.precede(a.emplace(t.body(a1)));
    for (const auto& [x, y] : std::vector<std::pair<std::size_t, std::size_t>>{
             {a0, b0}, {b0, c0}, {c0, c1}, {c1, b1}, {b1, a1}, {a0, c0}, {c1, a1}})
        t.edge(x, y);
    a.run(m_ex).get();
    t.check(1);
    a.run_n(m_ex, 4).get();
    t.check(5);
}

TEST_P(TaskGraphTest, GraphComposedTwiceInSequenceRunsTwicePerRun) {
    std::atomic<int> inner_runs{0};
    std::atomic<int> overlap{0};
    std::atomic<bool> inside{false};
    weft::task_graph inner;
    inner.emplace([&] {
        if (inside.exchange(true)) overlap.fetch_add(1);
        inner_runs.fetch_add(1);
        inside.store(false);
    });
    weft::task_graph outer;
    outer.compose(inner).precede(outer.compose(inner));
    outer.run_n(m_ex, 3).get();
    EXPECT_EQ(inner_runs.load(), 6);
    EXPECT_EQ(overlap.load(), 0);
}

// ---------------------------------------------------------------------------------------
// Conditions.

TEST_P(TaskGraphTest, ConditionLoopRunsTheBodyExactlyNTimes) {
    constexpr int k_n = 100;
    int i = 0;  // plain: the loop's nodes run one after the other
    int init_runs = 0, body_runs = 0, cond_runs = 0, done_runs = 0, seen_at_done = -1;
    weft::task_graph g;
    weft::node init = g.emplace([&] {
        i = 0;
        ++init_runs;
    });
    weft::node body = g.emplace([&] {
        ++i;
        ++body_runs;
    });
    weft::node cond = g.emplace_condition([&] {
        ++cond_runs;
        return i < k_n ? 0 : 1;
    });
    weft::node done = g.emplace([&] {
        seen_at_done = i;
        ++done_runs;
    });
    init.precede(body);
    body.precede(cond);
    cond.precede(body, done);
    EXPECT_EQ(body.num_strong_predecessors(), 1U);
    EXPECT_EQ(body.num_weak_predecessors(), 1U);
    g.run(m_ex).get();
    EXPECT_EQ(init_runs, 1);
    EXPECT_EQ(body_runs, k_n);
    EXPECT_EQ(cond_runs, k_n);
    EXPECT_EQ(done_runs, 1);
    EXPECT_EQ(seen_at_done, k_n);
    g.run_n(m_ex, 3).get();
    EXPECT_EQ(init_runs, 4);
    EXPECT_EQ(body_runs, 4 * k_n);
    EXPECT_EQ(done_runs, 4);
}

TEST_P(TaskGraphTest, ConditionRunsOnlyTheChosenBranch) {
    int choice = 0;
    std::atomic<int> yes{0}, yes_after{0}, no{0}, no_after{0}, join{0}, side{0};
    weft::task_graph g;
    weft::node start = g.placeholder();
    weft::node cond = g.emplace_condition([&] { return choice; });
    auto [y, ya, n, na] = g.emplace([&] { yes.fetch_add(1); }, [&] { yes_after.fetch_add(1); },
                                    [&] { no.fetch_add(1); }, [&] { no_after.fetch_add(1); });
    weft::node j = g.emplace([&] { join.fetch_add(1); });
    g.emplace([&] { side.fetch_add(1); });
    start.precede(cond);
    cond.precede(y, n);
    y.precede(ya);
    n.precede(na);
    j.succeed(ya, na);  // two strong predecessors, only one of which runs: j never runs
    for (const int c : {0, 1, 1, 0, 1}) {
        choice = c;
        g.run(m_ex).get();
    }
    EXPECT_EQ(yes.load(), 2);
    EXPECT_EQ(yes_after.load(), 2);
    EXPECT_EQ(no.load(), 3);
    EXPECT_EQ(no_after.load(), 3);
    EXPECT_EQ(join.load(), 0);
    EXPECT_EQ(side.load(), 5);
}

TEST_P(TaskGraphTest, ConditionIndexPicksAmongSuccessorsInPrecedeOrder) {
    std::array<std::atomic<int>, 4> hit{};
    long choice = 0;
    weft::task_graph g;
    weft::node sw = g.emplace_condition([&] { return choice; });  // a source
    std::vector<weft::node> cases;
    for (std::size_t i = 0; i < 3; ++i)
        cases.push_back(g.emplace([&hit, i] { hit[i].fetch_add(1); }));
    sw.precede(cases[0], cases[1]);
    sw.precede(cases[2]);
    // A chained condition behind case 2.
    weft::node second = g.emplace_condition([] { return std::size_t{0}; });
    cases[2].precede(second);
    second.precede(g.emplace([&hit] { hit[3].fetch_add(1); }));
    for (const long c : {2L, 0L, 1L, 2L}) {
        choice = c;
        g.run(m_ex).get();
    }
    EXPECT_EQ(hit[0].load(), 1);
    EXPECT_EQ(hit[1].load(), 1);
    EXPECT_EQ(hit[2].load(), 2);
    EXPECT_EQ(hit[3].load(), 2);
}

TEST_P(TaskGraphTest, NegativeOrOutOfRangeIndexRunsNoSuccessor) {
    std::atomic<int> downstream{0}, side{0};
    std::int64_t choice = 0;
    std::size_t big = 0;
    weft::task_graph g;
    weft::node c1 = g.emplace_condition([&] { return choice; });
    weft::node c2 = g.emplace_condition([&] { return big; });
    auto [a, b] = g.emplace([&] { downstream.fetch_add(1); }, [&] { downstream.fetch_add(1); });
    c1.precede(a, b);
    c2.precede(a);
    g.emplace([&] { side.fetch_add(1); });
    big = std::numeric_limits<std::size_t>::max();
    for (const std::int64_t c : {std::int64_t{-1}, std::int64_t{2}, std::int64_t{-1000000000000},
                                 std::numeric_limits<std::int64_t>::max()}) {
        choice = c;
        g.run(m_ex).get();
    }
    EXPECT_EQ(downstream.load(), 0);
    EXPECT_EQ(side.load(), 4);
}

// ---------------------------------------------------------------------------------------
// Repeated and concurrent runs.

TEST_P(TaskGraphTest, RunNRunsOneRunAfterTheOther) {
    int source_runs = 0, sink_runs = 0, overlaps = 0;  // plain: runs are in sequence
    std::atomic<int> middle{0};
    weft::task_graph g;
    weft::node source = g.emplace([&] {
        if (sink_runs != source_runs) ++overlaps;
        ++source_runs;
    });
    weft::node sink = g.emplace([&] { ++sink_runs; });
    for (int i = 0; i < 20; ++i) {
        weft::node m = g.emplace([&] { middle.fetch_add(1); });
        source.precede(m);
        m.precede(sink);
    }
    g.run_n(m_ex, 7).get();
    EXPECT_EQ(source_runs, 7);
    EXPECT_EQ(sink_runs, 7);
    EXPECT_EQ(middle.load(), 140);
    EXPECT_EQ(overlaps, 0);
}

TEST_P(TaskGraphTest, RunNOfZeroIsAReadyFutureAndRunsNothing) {
    std::atomic<int> runs{0};
    weft::task_graph g;
    g.emplace([&] { runs.fetch_add(1); });
    const weft::future<void> none = g.run_n(m_ex, 0);
    EXPECT_TRUE(none.done());
    none.get();
    g.run(m_ex).get();  // queued behind anything run_n(0) started
    EXPECT_EQ(runs.load(), 1);
}

TEST_P(TaskGraphTest, RunUntilChecksThePredicateBeforeEachRun) {
    int runs = 0, pred_calls = 0;  // plain: pred never runs at once with itself or a run
    weft::task_graph g;
    g.emplace([&] { ++runs; });
    g.run_until(m_ex, [&] {
         ++pred_calls;
         return runs == 4;
     }).get();
    EXPECT_EQ(runs, 4);
    EXPECT_EQ(pred_calls, 5);
    g.run_until(m_ex, [&] {
         ++pred_calls;
         return true;
     }).get();
    EXPECT_EQ(runs, 4);
    EXPECT_EQ(pred_calls, 6);
}

TEST_P(TaskGraphTest, RunsOfARunningGraphAreQueuedNotConcurrent) {
    std::atomic<bool> in_run{false};
    std::atomic<int> overlaps{0}, outside{0}, middle{0};
    weft::task_graph g;
    weft::node source = g.emplace([&] {
        if (in_run.exchange(true)) overlaps.fetch_add(1);
    });
    weft::node sink = g.emplace([&] { in_run.store(false); });
    for (int i = 0; i < 8; ++i) {
        weft::node m = g.emplace([&] {
            if (!in_run.load()) outside.fetch_add(1);
            middle.fetch_add(1);
        });
        source.precede(m);
        m.precede(sink);
    }
    std::vector<weft::future<void>> runs;
    for (int r = 0; r < 20; ++r) runs.push_back(g.run(m_ex));
    for (const auto& f : runs) f.get();
    EXPECT_EQ(overlaps.load(), 0);
    EXPECT_EQ(outside.load(), 0);
    EXPECT_EQ(middle.load(), 160);
    EXPECT_FALSE(g.running());
}

TEST_P(TaskGraphTest, ManyGraphsRunFromManyThreadsAtOnce) {
    constexpr int k_threads = 4, k_runs = 25;
    std::atomic<int> shared_runs{0};
    std::atomic<bool> shared_in_run{false};
    std::atomic<int> shared_overlaps{0};
    weft::task_graph shared;
    shared
        .emplace([&] {
            if (shared_in_run.exchange(true)) shared_overlaps.fetch_add(1);
        })
        .precede(shared.emplace([&] {
            shared_runs.fetch_add(1);
            shared_in_run.store(false);
        }));
    std::array<std::atomic<int>, k_threads> own{};
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t)
        threads.emplace_back([&, t] {
            weft::task_graph g;
            auto [a, b, c] = g.emplace([] {}, [&] { own[t].fetch_add(1); }, [] {});
            a.precede(b);
            b.precede(c);
            for (int r = 0; r < k_runs; ++r) {
                g.run(m_ex).get();
                shared.run(m_ex).get();
            }
        });
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < k_threads; ++t) EXPECT_EQ(own[t].load(), k_runs);
    EXPECT_EQ(shared_runs.load(), k_threads * k_runs);
    EXPECT_EQ(shared_overlaps.load(), 0);
}

// ---------------------------------------------------------------------------------------
// Waiting on runs from inside the executor.

TEST_P(TaskGraphTest, WaitingOnARunInsideAPostedTaskCompletes) {
    std::atomic<int> ran{0};
    weft::task_graph g;
    g.emplace([&] { ran.fetch_add(1); }).precede(g.emplace([&] { ran.fetch_add(1); }));
    weft::test::signal done;
    std::atomic<bool> ok{false};
    m_ex.post([&] {
        try {
            g.run(m_ex).get();
            ok = true;
        } catch (...) {
        }
        done.raise();
    });
    ASSERT_TRUE(done.wait());
    EXPECT_TRUE(ok.load());
    EXPECT_EQ(ran.load(), 2);
}

TEST_P(TaskGraphTest, NestedGraphsWaitOnEachOtherFromTheirNodes) {
    std::atomic<int> c_ran{0}, b_ran{0}, a_ran{0};
    weft::task_graph c, b, a;
    c.emplace([&] { c_ran.fetch_add(1); });
    b.emplace([&] {
        c.run(m_ex).get();
        b_ran.fetch_add(1);
    });
    a.emplace([&] {
        b.run(m_ex).get();
        a_ran.fetch_add(1);
    });
    a.run(m_ex).get();
    a.run_n(m_ex, 2).get();
    EXPECT_EQ(a_ran.load(), 3);
    EXPECT_EQ(b_ran.load(), 3);
    EXPECT_EQ(c_ran.load(), 3);
    // A whole tier of nodes waiting at once, each on a graph of its own.
    std::atomic<int> leaves{0};
    std::vector<std::unique_ptr<weft::task_graph>> inner;
    weft::task_graph top;
    for (int i = 0; i < 8; ++i) {
        inner.push_back(std::make_unique<weft::task_graph>());
        inner.back()->emplace([&] { leaves.fetch_add(1); });
        top.emplace([&m = m_ex, g = inner.back().get()] { g->run(m).get(); });
    }
    top.run(m_ex).get();
    EXPECT_EQ(leaves.load(), 8);
}

// ---------------------------------------------------------------------------------------
// DOT output and allocations.

TEST(TaskGraphDot, DumpNamesNodesDashesConditionEdgesAndClustersComposedGraphs) {
    weft::task_graph inner{"sub"};
    inner.emplace([] {}).name("inner_step");
    weft::task_graph g{"etl"};
    weft::node load = g.emplace([] {}).name("load");
    weft::node parse = g.emplace([] {}).name("parse");
    weft::node check = g.emplace_condition([] { return 0; }).name("check");
    weft::node retry = g.placeholder().name("retry");
    weft::node nested = g.compose(inner).name("nested");
    load.precede(parse);
    parse.precede(check);
    check.precede(retry, nested);
    const std::string dot = g.dump_dot();
    for (const char* token :
         {"digraph", "load", "parse", "check", "retry", "inner_step", "dashed", "cluster"})
        EXPECT_NE(dot.find(token), std::string::npos) << token << " missing from:\n" << dot;
    std::ostringstream os;
    g.dump_dot(os);
    EXPECT_EQ(os.str(), dot);

    // A subflow's nodes of the last run are drawn as a cluster.
    weft::executor ex{weft::executor_options{.workers = 1}};
    weft::task_graph dynamic{"dynamic"};
    dynamic
        .emplace([](weft::subflow& sf) {
            auto [left, right] = sf.emplace([] {}, [] {});
            left.name("left_child").precede(right.name("right_child"));
        })
        .name("work");
    dynamic.run(ex).get();
    const std::string dynamic_dot = dynamic.dump_dot();
    for (const char* token : {"digraph", "work", "left_child", "right_child", "cluster"})
        EXPECT_NE(dynamic_dot.find(token), std::string::npos) << token << " missing from:\n"
                                                              << dynamic_dot;

    weft::task_graph plain;
    plain.emplace([] {}).name("alone");
    const std::string plain_dot = plain.dump_dot();
    EXPECT_NE(plain_dot.find("digraph"), std::string::npos);
    EXPECT_EQ(plain_dot.find("dashed"), std::string::npos) << plain_dot;
    EXPECT_EQ(plain_dot.find("cluster"), std::string::npos) << plain_dot;
}

/// `layers` layers of `width` nodes; each node after the first layer follows two of the
/// layer before. Each node adds 1 to `count`.
void build_layered(weft::task_graph& g, std::size_t layers, std::size_t width,
                   std::atomic<std::uint64_t>& count) {
    std::vector<weft::node> previous;
    for (std::size_t l = 0; l < layers; ++l) {
        std::vector<weft::node> layer;
        for (std::size_t i = 0; i < width; ++i) {
            layer.push_back(g.emplace([&count] { count.fetch_add(1, std::memory_order_relaxed); }));
            if (!previous.empty()) layer.back().succeed(previous[i], previous[(i + 1) % width]);
        }
        previous = std::move(layer);
    }
}

/// The fewest allocations (on any thread) over a few calls of `start(g)` (a run of `g`,
/// waited for), after two warm-up calls.
template <class Start>
std::uint64_t allocations_per_call(weft::task_graph& g, Start start) {
    start(g).get();
    start(g).get();
    std::uint64_t least = std::numeric_limits<std::uint64_t>::max();
    for (int r = 0; r < 5; ++r) {
        g_allocations.store(0);
        g_counting.store(true);
        start(g).get();
        g_counting.store(false);
        least = std::min(least, g_allocations.load());
    }
    return least;
}

TEST_P(TaskGraphTest, AllocationsPerRunDoNotGrowWithNodes) {
#ifndef WEFT_TEST_COUNTS_ALLOCATIONS
    GTEST_SKIP() << "allocations are not counted under a sanitizer";
#endif
    std::atomic<std::uint64_t> small_count{0}, large_count{0};
    weft::task_graph small, large;
    build_layered(small, 5, 2, small_count);
    build_layered(large, 10, 100, large_count);
    ASSERT_EQ(small.size(), 10U);
    ASSERT_EQ(large.size(), 1000U);
    const auto once = [this](weft::task_graph& g) { return g.run(m_ex); };
    const std::uint64_t small_allocs = allocations_per_call(small, once);
    const std::uint64_t large_allocs = allocations_per_call(large, once);
    EXPECT_EQ(small_count.load(), 7U * 10U);
    EXPECT_EQ(large_count.load(), 7U * 1000U);
    EXPECT_LT(small_allocs, 16U);
    EXPECT_LT(large_allocs, 16U);
    EXPECT_EQ(small_allocs, large_allocs);
    // A series allocates once for all its runs, not per run.
    const std::uint64_t series_allocs =
        allocations_per_call(large, [this](weft::task_graph& g) { return g.run_n(m_ex, 20); });
    EXPECT_EQ(large_count.load(), 7U * 1000U + 7U * 20U * 1000U);
    EXPECT_LT(series_allocs, 16U);
}

TEST_P(TaskGraphTest, AllocationsOfAConditionLoopDoNotGrowWithIterations) {
#ifndef WEFT_TEST_COUNTS_ALLOCATIONS
    GTEST_SKIP() << "allocations are not counted under a sanitizer";
#endif
    int i = 0, limit = 10;  // plain: the loop's nodes run one after the other
    weft::task_graph g;
    weft::node init = g.emplace([&] { i = 0; });
    weft::node body = g.emplace([&] { ++i; });
    weft::node cond = g.emplace_condition([&] { return i < limit ? 0 : 1; });
    init.precede(body);
    body.precede(cond);
    cond.precede(body, g.placeholder());
    const auto once = [this](weft::task_graph& graph) { return graph.run(m_ex); };
    const std::uint64_t short_loop = allocations_per_call(g, once);
    EXPECT_EQ(i, 10);
    limit = 1000;
    const std::uint64_t long_loop = allocations_per_call(g, once);
    EXPECT_EQ(i, 1000);
    EXPECT_LT(long_loop, 16U);
    EXPECT_EQ(short_loop, long_loop);
}

INSTANTIATE_TEST_SUITE_P(Workers, TaskGraphTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
