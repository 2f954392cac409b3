// weft::task_graph used wrongly and runs that fail: cycles, foreign and empty node
// handles, composition cycles, changes while running, waits that could never end,
// empty callables, nodes that throw, cancellation, and destruction.
#include "test_signal.hpp"

#include <weft/executor.hpp>
#include <weft/task_graph.hpp>
#include <weft/this_worker.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// Waits for `s` on a worker without taking the worker from the executor (a spare runs
/// the queued work meanwhile), so that a 1-worker executor still makes progress.
bool block_on(weft::test::signal& s) {
    return weft::this_worker::blocking([&s] { return s.wait(); });
}

/// The message of the graph_error `f` throws, or "(no graph_error)".
template <class F>
std::string graph_error_message(F&& f) {
    try {
        f();
    } catch (const weft::graph_error& e) {
        return e.what();
    }
    return "(no graph_error)";
}

bool contains_any(const std::string& text, std::initializer_list<const char*> words) {
    for (const char* w : words)
        if (text.find(w) != std::string::npos) return true;
    return false;
}

// ---------------------------------------------------------------------------------------
// Cycles and graphs that cannot start.

TEST(TaskGraphError, CycleIsRejectedBeforeAnythingRunsNamingANodeOnIt) {
    weft::executor ex{weft::executor_options{.workers = 2}};
    std::atomic<int> ran{0};
    auto count = [&ran] { ran.fetch_add(1); };
    weft::task_graph g;
    weft::node head = g.emplace(count).name("head");
    weft::node a = g.emplace(count).name("ring_a");
    weft::node b = g.emplace(count).name("ring_b");
    weft::node c = g.emplace(count).name("ring_c");
    weft::node tail = g.emplace(count).name("tail");
    g.emplace(count).name("alone");
    head.precede(a);
    a.precede(b);
    b.precede(c);
    c.precede(a, tail);
    const std::string validate_message = graph_error_message([&] { g.validate(); });
    EXPECT_TRUE(contains_any(validate_message, {"ring_a", "ring_b", "ring_c"})) << validate_message;
    const std::string run_message = graph_error_message([&] { (void)g.run(ex); });
    EXPECT_TRUE(contains_any(run_message, {"ring_a", "ring_b", "ring_c"})) << run_message;
    EXPECT_THROW((void)g.run_n(ex, 3), weft::graph_error);
    EXPECT_THROW((void)g.run_until(ex, [] { return false; }), weft::graph_error);
    EXPECT_EQ(ran.load(), 0);
    EXPECT_FALSE(g.running());
}

// A long chain with a small cycle in its middle and many nodes downstream of it: the
// message names a node of the cycle, not one merely reached from it.
TEST(TaskGraphError, CycleDeepInAGraphNamesANodeOfTheCycleNotADownstreamOne) {
    weft::task_graph g;
    std::vector<weft::node> nodes;
    for (int i = 0; i < 100; ++i) {
        std::string name{
            "["};  // appended, not "[" + ...: g++ 12 warns falsely (-Wrestrict) on that
        name += std::to_string(i);
        name += ']';
        nodes.push_back(g.emplace([] {}).name(name));
    }
    for (std::size_t i = 0; i + 1 < nodes.size(); ++i)
        if (i != 52) nodes[i].precede(nodes[i + 1]);
    nodes[52].precede(nodes[50]);  // 50 -> 51 -> 52 -> 50
    nodes[51].precede(nodes[53]);  // the rest hangs off the cycle
    for (std::size_t i = 53; i < nodes.size(); ++i)
        nodes[i].precede(g.emplace([] {}).name("<after>"));
    const std::string message = graph_error_message([&] { g.validate(); });
    EXPECT_TRUE(contains_any(message, {"[50]", "[51]", "[52]"})) << message;
}

TEST(TaskGraphError, SelfLoopIsACycle) {
    weft::task_graph g;
    weft::node a = g.emplace([] {}).name("self");
    try {
        a.precede(a);  // may be refused at once
    } catch (const weft::graph_error&) {
        EXPECT_EQ(a.num_successors(), 0U);
        return;
    }
    const std::string message = graph_error_message([&] { g.validate(); });
    EXPECT_TRUE(contains_any(message, {"self"})) << message;
}

TEST(TaskGraphError, CycleInAComposedGraphIsReportedByTheOuterGraph) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    std::atomic<int> ran{0};
    weft::task_graph inner;
    weft::node x = inner.emplace([&] { ran.fetch_add(1); }).name("inner_x");
    weft::node y = inner.emplace([&] { ran.fetch_add(1); }).name("inner_y");
    inner.emplace([&] { ran.fetch_add(1); });
    x.precede(y);
    y.precede(x);
    weft::task_graph outer;
    outer.emplace([&] { ran.fetch_add(1); }).precede(outer.compose(inner));
    const std::string message = graph_error_message([&] { outer.validate(); });
    EXPECT_TRUE(contains_any(message, {"inner_x", "inner_y"})) << message;
    EXPECT_THROW((void)outer.run(ex), weft::graph_error);
    EXPECT_EQ(ran.load(), 0);
}

TEST(TaskGraphError, GraphWhoseEveryNodeHasAPredecessorCannotStart) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    std::atomic<int> ran{0};
    weft::task_graph g;
    weft::node c1 = g.emplace_condition([&] { return ran.fetch_add(1) * 0; });
    weft::node c2 = g.emplace_condition([&] { return ran.fetch_add(1) * 0; });
    c1.precede(c2);
    c2.precede(c1);
    EXPECT_THROW(g.validate(), weft::graph_error);
    EXPECT_THROW((void)g.run(ex), weft::graph_error);
    EXPECT_EQ(ran.load(), 0);
}

// ---------------------------------------------------------------------------------------
// Bad handles, bad compositions, empty callables.

TEST(TaskGraphError, NodeOfAnotherGraphIsRejected) {
    weft::task_graph g1, g2;
    weft::node a = g1.emplace([] {});
    weft::node b = g2.emplace([] {});
    std::vector<weft::node> foreign{b};
    EXPECT_THROW(a.precede(b), weft::graph_error);
    EXPECT_THROW(a.succeed(b), weft::graph_error);
    EXPECT_THROW(a.precede(foreign), weft::graph_error);
    EXPECT_THROW(a.succeed(foreign), weft::graph_error);
    EXPECT_EQ(a.num_successors(), 0U);
    EXPECT_EQ(a.num_predecessors(), 0U);
    EXPECT_EQ(b.num_successors(), 0U);
    EXPECT_EQ(b.num_predecessors(), 0U);
}

TEST(TaskGraphError, EmptyNodeHandleIsRejected) {
    weft::task_graph g;
    weft::node a = g.emplace([] {});
    weft::node empty;
    EXPECT_THROW(a.precede(empty), weft::graph_error);
    EXPECT_THROW(a.succeed(empty), weft::graph_error);
    EXPECT_THROW(empty.precede(a), weft::graph_error);
    EXPECT_THROW(empty.name("x"), weft::graph_error);
    EXPECT_THROW((void)empty.name(), weft::graph_error);
    EXPECT_THROW((void)empty.kind(), weft::graph_error);
    EXPECT_THROW((void)empty.num_successors(), weft::graph_error);
    EXPECT_THROW((void)empty.num_predecessors(), weft::graph_error);
    EXPECT_EQ(a.num_successors(), 0U);
    EXPECT_EQ(a.num_predecessors(), 0U);
}

TEST(TaskGraphError, ComposingItselfOrACycleOfGraphsIsRejected) {
    weft::task_graph a, b, c;
    EXPECT_THROW(a.compose(a), weft::graph_error);
    EXPECT_TRUE(a.empty());
    a.compose(b);
    EXPECT_THROW(b.compose(a), weft::graph_error);
    EXPECT_TRUE(b.empty());
    b.compose(c);
    EXPECT_THROW(c.compose(a), weft::graph_error);
    EXPECT_THROW(c.compose(b), weft::graph_error);
    EXPECT_TRUE(c.empty());
    EXPECT_EQ(a.size(), 1U);
    EXPECT_NO_THROW(c.validate());
    EXPECT_NO_THROW(a.validate());
}

TEST(TaskGraphError, EmptyCallablesAreRejected) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    weft::task_graph g;
    EXPECT_THROW(g.emplace(std::function<void()>{}), std::invalid_argument);
    EXPECT_THROW(g.emplace(std::function<void(weft::subflow&)>{}), std::invalid_argument);
    EXPECT_THROW(g.emplace(static_cast<void (*)()>(nullptr)), std::invalid_argument);
    EXPECT_THROW(g.emplace_condition(std::function<int()>{}), std::invalid_argument);
    EXPECT_TRUE(g.empty());
    EXPECT_THROW((void)g.run_until(ex, std::function<bool()>{}), std::invalid_argument);
    std::atomic<int> ran{0};
    g.emplace([&] { ran.fetch_add(1); });
    g.run(ex).get();
    EXPECT_EQ(ran.load(), 1);
}

TEST(TaskGraphError, RunOnAShutDownExecutorThrowsAndRunsNothing) {
    weft::executor ex{weft::executor_options{.workers = 1}};
    std::atomic<int> ran{0};
    weft::task_graph g;
    g.emplace([&] { ran.fetch_add(1); });
    ex.shutdown();
    EXPECT_THROW((void)g.run(ex), weft::executor_shutdown_error);
    EXPECT_EQ(ran.load(), 0);
    EXPECT_FALSE(g.running());
    EXPECT_NO_THROW(g.emplace([] {}));  // not left "running"
}

// ---------------------------------------------------------------------------------------
// Changes while running and waits that could never end. On 1, 2 and 4 workers.

class TaskGraphErrorTest : public ::testing::TestWithParam<std::size_t> {
protected:
    weft::executor m_ex{weft::executor_options{.workers = GetParam()}};
};

TEST_P(TaskGraphErrorTest, ChangingAGraphWhileItRunsThrowsFromOutside) {
    weft::test::signal started, release;
    weft::task_graph other;
    weft::task_graph g;
    weft::node blocker = g.emplace([&] {
        started.raise();
        block_on(release);
    });
    weft::node next = g.emplace([] {});
    weft::future<void> run = g.run(m_ex);
    ASSERT_TRUE(started.wait());
    EXPECT_TRUE(g.running());
    EXPECT_THROW(g.emplace([] {}), weft::graph_error);
    EXPECT_THROW(g.emplace([](weft::subflow&) {}), weft::graph_error);
    EXPECT_THROW(g.emplace_condition([] { return 0; }), weft::graph_error);
    EXPECT_THROW(g.placeholder(), weft::graph_error);
    EXPECT_THROW(g.compose(other), weft::graph_error);
    EXPECT_THROW(blocker.precede(next), weft::graph_error);
    EXPECT_THROW(next.succeed(blocker), weft::graph_error);
    EXPECT_THROW(blocker.name("renamed"), weft::graph_error);
    EXPECT_THROW(g.clear(), weft::graph_error);
    EXPECT_EQ(g.size(), 2U);  // reading is fine
    EXPECT_EQ(blocker.num_successors(), 0U);
    EXPECT_EQ(blocker.name(), "");
    release.raise();
    run.get();
    EXPECT_FALSE(g.running());
    EXPECT_NO_THROW(blocker.precede(next));  // changes work again once the run ended
    EXPECT_NO_THROW(blocker.name("renamed"));
    EXPECT_NO_THROW(g.emplace([] {}));
    EXPECT_NO_THROW(g.run(m_ex).get());
    EXPECT_NO_THROW(g.clear());
}

TEST_P(TaskGraphErrorTest, ChangingAGraphFromInsideItsOwnNodeThrows) {
    std::atomic<int> rejected{0};
    weft::task_graph g;
    weft::node peer = g.emplace([] {});
    weft::node self;
    self = g.emplace([&] {
        auto expect_rejected = [&](auto&& change) {
            try {
                change();
            } catch (const weft::graph_error&) {
                rejected.fetch_add(1);
            }
        };
        expect_rejected([&] { g.emplace([] {}); });
        expect_rejected([&] { g.placeholder(); });
        expect_rejected([&] { self.precede(peer); });
        expect_rejected([&] { self.name("x"); });
        expect_rejected([&] { g.clear(); });
    });
    g.run(m_ex).get();
    EXPECT_EQ(rejected.load(), 5);
    EXPECT_EQ(g.size(), 2U);
    EXPECT_EQ(self.num_successors(), 0U);
}

// While a composed node runs `inner`, `inner` is running: it cannot change, and a run of
// it of its own is queued behind that use.
TEST_P(TaskGraphErrorTest, ComposedGraphRunsWhileItsComposedNodeRunsIt) {
    std::atomic<int> rejected{0}, inner_ran{0};
    std::atomic<bool> seen_running{false};
    weft::future<void> own_run;  // written by inner's node, read after the outer run
    weft::task_graph inner;
    inner.emplace([&] {
        if (inner_ran.fetch_add(1) != 0) return;  // the queued run of its own
        seen_running = inner.running();
        try {
            inner.emplace([] {});
        } catch (const weft::graph_error&) {
            rejected.fetch_add(1);
        }
        own_run = inner.run(m_ex);
    });
    weft::task_graph outer;
    outer.emplace([] {}).precede(outer.compose(inner));
    outer.run(m_ex).get();
    EXPECT_TRUE(seen_running.load());
    EXPECT_EQ(rejected.load(), 1);
    EXPECT_EQ(inner.size(), 1U);
    ASSERT_TRUE(own_run.valid());
    own_run.get();
    EXPECT_EQ(inner_ran.load(), 2);
}

TEST_P(TaskGraphErrorTest, ComposedGraphAlreadyRunningFailsItsNode) {
    weft::test::signal started, release;
    std::atomic<int> inner_runs{0}, after{0}, side{0};
    weft::task_graph inner;
    inner.emplace([&] {
        if (inner_runs.fetch_add(1) == 0) {
            started.raise();
            block_on(release);
        }
    });
    weft::task_graph outer;
    weft::node k = outer.compose(inner);
    k.precede(outer.emplace([&] { after.fetch_add(1); }));
    outer.emplace([&] { side.fetch_add(1); });
    const weft::future<void> first = inner.run(m_ex);
    ASSERT_TRUE(started.wait());
    const weft::future<void> run = outer.run(m_ex);
    const bool ended = run.wait_for(30s) == std::future_status::ready;
    release.raise();
    first.get();
    ASSERT_TRUE(ended) << "the composed node waited for the running graph instead of failing";
    EXPECT_THROW(run.get(), weft::graph_error);
    EXPECT_EQ(after.load(), 0);
    EXPECT_EQ(side.load(), 1);
    EXPECT_EQ(inner_runs.load(), 1);
    outer.run(m_ex).get();  // both graphs are reusable
    EXPECT_EQ(inner_runs.load(), 2);
    EXPECT_EQ(after.load(), 1);
}

TEST_P(TaskGraphErrorTest, WaitingOnItsOwnRunFromInsideThrows) {
    weft::test::signal stored;
    weft::future<void> run;  // read by the node once `stored` is raised
    std::atomic<int> get_outcome{0}, wait_outcome{0};
    weft::task_graph g;
    g.emplace([&] {
        if (!stored.wait()) return;
        try {
            run.get();
            get_outcome = 1;
        } catch (const weft::graph_error&) {
            get_outcome = 2;
        }
        try {
            run.wait();
            wait_outcome = 1;
        } catch (const weft::graph_error&) {
            wait_outcome = 2;
        }
    });
    run = g.run(m_ex);
    const weft::future<void> mine = run;
    stored.raise();
    mine.get();
    EXPECT_EQ(get_outcome.load(), 2);
    EXPECT_EQ(wait_outcome.load(), 2);
}

TEST_P(TaskGraphErrorTest, WaitingOnAQueuedRunOfTheSameGraphFromInsideThrows) {
    weft::test::signal stored;
    weft::future<void> second;  // read by the node once `stored` is raised
    std::atomic<int> calls{0}, outcome{0};
    weft::task_graph g;
    g.emplace([&] {
        if (calls.fetch_add(1) != 0 || !stored.wait()) return;
        try {
            second.get();  // queued behind this very run: it could never start
            outcome = 1;
        } catch (const weft::graph_error&) {
            outcome = 2;
        }
    });
    const weft::future<void> first = g.run(m_ex);
    second = g.run(m_ex);
    const weft::future<void> mine = second;
    stored.raise();
    first.get();
    mine.get();
    EXPECT_EQ(outcome.load(), 2);
    EXPECT_EQ(calls.load(), 2);
}

TEST_P(TaskGraphErrorTest, WaitingOnTheRunFromASubflowOrAComposedGraphInsideItThrows) {
    weft::test::signal stored;
    weft::future<void> run;  // read by the nodes once `stored` is raised
    std::atomic<int> from_subflow{0}, from_composed{0};
    auto outcome = [&run] {
        try {
            run.get();
            return 1;
        } catch (const weft::graph_error&) {
            return 2;
        }
    };
    weft::task_graph inner;
    inner.emplace([&] {
        if (stored.wait()) from_composed = outcome();
    });
    weft::task_graph g;
    g.emplace([&](weft::subflow& sf) {
        sf.emplace([&] {
            if (stored.wait()) from_subflow = outcome();
        });
    });
    g.compose(inner);
    run = g.run(m_ex);
    const weft::future<void> mine = run;
    stored.raise();
    mine.get();
    EXPECT_EQ(from_subflow.load(), 2);
    EXPECT_EQ(from_composed.load(), 2);
}

// ---------------------------------------------------------------------------------------
// Nodes that throw.

struct node_failure {
    int id;
};

TEST_P(TaskGraphErrorTest, ThrowingNodeSkipsItsDownstreamAndTheRunRethrowsTheSameException) {
    std::atomic<int> up{0}, down{0}, down2{0}, joined{0}, side{0}, side2{0};
    std::atomic<bool> fail{true};
    const node_failure* thrown_object = nullptr;
    std::exception_ptr thrown;
    weft::task_graph g;
    weft::node root = g.emplace([&] { up.fetch_add(1); });
    weft::node bad = g.emplace([&] {
        if (!fail.load()) return;
        try {
            throw node_failure{7};
        } catch (const node_failure& e) {
            thrown_object = &e;
            thrown = std::current_exception();
            throw;
        }
    });
    auto [d1, d2, j, s1, s2] = g.emplace([&] { down.fetch_add(1); }, [&] { down2.fetch_add(1); },
                                         [&] { joined.fetch_add(1); }, [&] { side.fetch_add(1); },
                                         [&] { side2.fetch_add(1); });
    root.precede(bad, s1);
    bad.precede(d1);
    d1.precede(d2);
    j.succeed(d2, s1);  // downstream of the failure through one path: skipped
    s1.precede(s2);     // independent of it: runs
    const weft::future<void> run = g.run(m_ex);
    try {
        run.get();
        FAIL() << "get() did not rethrow";
    } catch (const node_failure& e) {
        EXPECT_EQ(&e, thrown_object);
        EXPECT_EQ(e.id, 7);
    }
    EXPECT_TRUE(run.exception() == thrown);
    EXPECT_EQ(up.load(), 1);
    EXPECT_EQ(down.load(), 0);
    EXPECT_EQ(down2.load(), 0);
    EXPECT_EQ(joined.load(), 0);
    EXPECT_EQ(side.load(), 1);
    EXPECT_EQ(side2.load(), 1);
    EXPECT_FALSE(g.running());
    fail = false;
    g.run(m_ex).get();  // reusable: the next run completes everything
    EXPECT_EQ(down.load(), 1);
    EXPECT_EQ(down2.load(), 1);
    EXPECT_EQ(joined.load(), 1);
    EXPECT_EQ(side2.load(), 2);
}

TEST_P(TaskGraphErrorTest, SeveralThrowingNodesEndTheRunWithOneOfTheirExceptions) {
    weft::task_graph g;
    std::atomic<int> after{0};
    weft::node join = g.emplace([&] { after.fetch_add(1); });
    for (int i = 0; i < 16; ++i) g.emplace([i] { throw node_failure{i}; }).precede(join);
    // The handle lives across the catch: the state (and the exception in it) is freed
    // after the catch reads the exception, in an order ThreadSanitizer can see (the
    // exception's own reference count lives in uninstrumented libstdc++).
    const weft::future<void> run = g.run(m_ex);
    try {
        run.get();
        FAIL() << "get() did not rethrow";
    } catch (const node_failure& e) {
        EXPECT_GE(e.id, 0);
        EXPECT_LT(e.id, 16);
    }
    EXPECT_EQ(after.load(), 0);
}

TEST_P(TaskGraphErrorTest, ThrowingSubflowChildSkipsTheSubflowsSuccessors) {
    std::atomic<int> siblings{0}, after{0};
    weft::task_graph g;
    weft::node s = g.emplace([&](weft::subflow& sf) {
        sf.emplace([] { throw node_failure{1}; });
        sf.emplace([&] { siblings.fetch_add(1); });
    });
    s.precede(g.emplace([&] { after.fetch_add(1); }));
    EXPECT_THROW(g.run(m_ex).get(), node_failure);
    EXPECT_EQ(siblings.load(), 1);
    EXPECT_EQ(after.load(), 0);
    weft::task_graph thrower;  // the subflow's callable itself throws
    thrower.emplace([](weft::subflow&) { throw node_failure{2}; }).precede(thrower.emplace([&] {
        after.fetch_add(1);
    }));
    EXPECT_THROW(thrower.run(m_ex).get(), node_failure);
    EXPECT_EQ(after.load(), 0);
}

TEST_P(TaskGraphErrorTest, ThrowingNodeOfAComposedGraphFailsTheOuterRun) {
    std::atomic<bool> fail{true};
    std::atomic<int> after{0}, inner_after{0};
    weft::task_graph inner;
    inner
        .emplace([&] {
            if (fail.load()) throw node_failure{3};
        })
        .precede(inner.emplace([&] { inner_after.fetch_add(1); }));
    weft::task_graph outer;
    outer.compose(inner).precede(outer.emplace([&] { after.fetch_add(1); }));
    const weft::future<void> run = outer.run(m_ex);  // lives across the catch, as above
    try {
        run.get();
        FAIL() << "get() did not rethrow";
    } catch (const node_failure& e) {
        EXPECT_EQ(e.id, 3);
    }
    EXPECT_EQ(inner_after.load(), 0);
    EXPECT_EQ(after.load(), 0);
    fail = false;
    outer.run(m_ex).get();
    EXPECT_EQ(inner_after.load(), 1);
    EXPECT_EQ(after.load(), 1);
}

TEST_P(TaskGraphErrorTest, ThrowingConditionRunsNoSuccessor) {
    std::atomic<int> picked{0};
    weft::task_graph g;
    weft::node c = g.emplace_condition([]() -> int { throw node_failure{4}; });
    c.precede(g.emplace([&] { picked.fetch_add(1); }));
    EXPECT_THROW(g.run(m_ex).get(), node_failure);
    EXPECT_EQ(picked.load(), 0);
}

TEST_P(TaskGraphErrorTest, FailedRunEndsARunNSeries) {
    std::atomic<int> runs{0};
    weft::task_graph g;
    g.emplace([&] {
        if (runs.fetch_add(1) == 2) throw node_failure{5};
    });
    EXPECT_THROW(g.run_n(m_ex, 10).get(), node_failure);
    EXPECT_EQ(runs.load(), 3);
    g.run_n(m_ex, 2).get();
    EXPECT_EQ(runs.load(), 5);
}

TEST_P(TaskGraphErrorTest, ThrowingRunUntilPredicateEndsTheSeries) {
    std::atomic<int> runs{0};
    int asked = 0;  // plain: pred never runs at once with itself
    weft::task_graph g;
    g.emplace([&] { runs.fetch_add(1); });
    EXPECT_THROW(g.run_until(m_ex,
                             [&]() -> bool {
                                 if (++asked == 3) throw node_failure{6};
                                 return false;
                             })
                     .get(),
                 node_failure);
    EXPECT_EQ(runs.load(), 2);
    EXPECT_EQ(asked, 3);
    g.run(m_ex).get();
    EXPECT_EQ(runs.load(), 3);
}

TEST_P(TaskGraphErrorTest, CycleInASubflowFailsThatRun) {
    std::atomic<int> ran{0}, after{0};
    std::atomic<bool> cyclic{true};
    weft::task_graph g;
    weft::node s = g.emplace([&](weft::subflow& sf) {
        weft::node a = sf.emplace([&] { ran.fetch_add(1); }).name("sub_a");
        weft::node b = sf.emplace([&] { ran.fetch_add(1); }).name("sub_b");
        a.precede(b);
        if (cyclic.load()) b.precede(a);
    });
    s.precede(g.emplace([&] { after.fetch_add(1); }));
    EXPECT_THROW(g.run(m_ex).get(), weft::graph_error);
    EXPECT_EQ(ran.load(), 0);
    EXPECT_EQ(after.load(), 0);
    cyclic = false;
    g.run(m_ex).get();
    EXPECT_EQ(ran.load(), 2);
    EXPECT_EQ(after.load(), 1);
}

// ---------------------------------------------------------------------------------------
// Cancellation.

TEST_P(TaskGraphErrorTest, CancellingARunningRunStopsNewNodesAndEndsCancelled) {
    weft::test::signal started, release;
    std::atomic<int> first{0}, finished{0}, after{0};
    weft::task_graph g;
    weft::node blocker = g.emplace([&] {
        if (first.fetch_add(1) == 0) {
            started.raise();
            release.wait();
        }
        finished.fetch_add(1);
    });
    auto [a, b] = g.emplace([&] { after.fetch_add(1); }, [&] { after.fetch_add(1); });
    blocker.precede(a);
    a.precede(b);
    const weft::future<void> run = g.run(m_ex);
    ASSERT_TRUE(started.wait());
    EXPECT_TRUE(run.cancel());
    release.raise();
    EXPECT_THROW(run.get(), weft::cancelled_error);
    EXPECT_TRUE(run.cancelled());
    EXPECT_EQ(finished.load(), 1);  // the running node finished
    EXPECT_EQ(after.load(), 0);
    g.run(m_ex).get();  // reusable
    EXPECT_EQ(finished.load(), 2);
    EXPECT_EQ(after.load(), 2);
}

TEST_P(TaskGraphErrorTest, CancelledQueuedRunNeverRuns) {
    weft::test::signal started, release;
    std::atomic<int> runs{0};
    weft::task_graph g;
    g.emplace([&] {
        if (runs.fetch_add(1) == 0) {
            started.raise();
            release.wait();
        }
    });
    const weft::future<void> first = g.run(m_ex);
    ASSERT_TRUE(started.wait());
    const weft::future<void> queued = g.run(m_ex);
    EXPECT_FALSE(queued.done());  // never concurrent with the first
    EXPECT_TRUE(queued.cancel());
    release.raise();
    first.get();
    EXPECT_THROW(queued.get(), weft::cancelled_error);
    g.run(m_ex).get();  // queued behind anything left: the cancelled run has not run
    EXPECT_EQ(runs.load(), 2);
    EXPECT_FALSE(first.cancel());  // a finished run cannot be cancelled
    EXPECT_FALSE(first.cancelled());
}

TEST_P(TaskGraphErrorTest, CancellingARunNSeriesEndsIt) {
    weft::test::signal started, release;
    std::atomic<int> runs{0};
    weft::task_graph g;
    g.emplace([&] {
        if (runs.fetch_add(1) == 1) {
            started.raise();
            release.wait();
        }
    });
    const weft::future<void> series = g.run_n(m_ex, 100);
    ASSERT_TRUE(started.wait());
    EXPECT_TRUE(series.cancel());
    release.raise();
    EXPECT_THROW(series.get(), weft::cancelled_error);
    g.run(m_ex).get();
    EXPECT_EQ(runs.load(), 3);
}

// ---------------------------------------------------------------------------------------
// Destruction.

TEST_P(TaskGraphErrorTest, DestructorWaitsForEveryRunQueuedOnesToo) {
    weft::test::signal started, release;
    std::atomic<int> runs{0};
    std::vector<weft::future<void>> futures;
    std::thread releaser;
    bool was_started = false;
    {
        weft::task_graph g;
        g.emplace([&] {
            if (runs.fetch_add(1) == 0) {
                started.raise();
                release.wait();
            }
        });
        for (int i = 0; i < 3; ++i) futures.push_back(g.run(m_ex));
        was_started = started.wait();
        releaser = std::thread{[&] { release.raise(); }};
    }  // ~task_graph: waits for the three runs
    releaser.join();
    ASSERT_TRUE(was_started);
    EXPECT_EQ(runs.load(), 3);
    for (const auto& f : futures) {
        EXPECT_TRUE(f.done());
        EXPECT_NO_THROW(f.get());
    }
}

// Regression: the destructor returned before the last run's future was done (the graph
// went idle, and woke the destructor, before the future completed).
TEST_P(TaskGraphErrorTest, DestructorReturnsOnlyOnceEveryRunsFutureIsDone) {
    for (int i = 0; i < 300; ++i) {
        weft::future<void> f;
        {
            weft::task_graph g;
            g.emplace([] {});
            f = g.run(m_ex);
        }
        ASSERT_TRUE(f.done()) << "iteration " << i;
        f.get();
    }
}

// A graph owned by a shared_ptr that the run's own done-callback holds last: the
// destructor runs inside the run's completion, on a worker, and must neither wait for
// that run (a self-deadlock) nor let it touch the freed graph (ASan would see it).
TEST_P(TaskGraphErrorTest, GraphDestroyedByItsOwnRunsDoneCallbackNeitherHangsNorIsUsedAfterFree) {
    for (int i = 0; i < 200; ++i) {
        std::atomic<int> ran{0};
        auto g = std::make_shared<weft::task_graph>();
        g->emplace([&] { ran.fetch_add(1); });
        weft::future<void> f = g->run(m_ex);
        weft::test::signal called;
        f.add_done_callback([keep = std::move(g), &called](const weft::future<void>&) mutable {
            keep.reset();  // the last owner: ~task_graph runs here
            called.raise();
        });
        ASSERT_TRUE(called.wait());
        f.get();
        EXPECT_EQ(ran.load(), 1);
    }
}

INSTANTIATE_TEST_SUITE_P(Workers, TaskGraphErrorTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

TEST(TaskGraphDeathTest, DestroyingAGraphFromInsideItsOwnNodeIsReportedNotAHang) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const auto destroy_from_inside = [] {
        weft::executor ex{weft::executor_options{.workers = 1}};
        auto* g = new weft::task_graph{"doomed"};
        g->emplace([g] { delete g; });
        (void)g->run(ex).wait_for(std::chrono::seconds{10});  // the report ends the process first
        std::_Exit(0);                                        // not a death: the test fails
    };
    EXPECT_DEATH(destroy_from_inside(), "doomed.*own node");
}

TEST(TaskGraphDeathTest, MoveAssigningToAGraphFromInsideItsOwnNodeIsReportedNotAHang) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const auto assign_from_inside = [] {
        weft::executor ex{weft::executor_options{.workers = 1}};
        weft::task_graph g{"assigned"};
        g.emplace([&g] { g = weft::task_graph{"other"}; });
        (void)g.run(ex).wait_for(std::chrono::seconds{10});  // the report ends the process first
        std::_Exit(0);                                       // not a death: the test fails
    };
    EXPECT_DEATH(assign_from_inside(), "assigned.*own node");
}

}  // namespace
