// weft — running a task graph (lib/task_graph_impl.hpp narrates the counting).
//
// A worker runs a chain of nodes in one loop: each finishing node keeps one ready
// successor to run next and pushes the others onto its deque, so a chain costs no trip
// through the deque and no recursion. The thread that ends a scope finishes the scope's
// owner (a subflow or composed node) in the same loop, or ends the run's iteration and
// begins the next iteration, or the next queued run.
#include "graph_counts.hpp"
#include "task_graph_impl.hpp"

#include <weft/detail/task_sink.hpp>

#include <string>
#include <utility>

namespace weft::detail {
namespace {

constexpr int k_no_successor = -1;  // a finishing node schedules nothing

using counts = graph_counts<>;
static_assert(counts::k_cancel == graph_run::k_cancel && counts::k_failed == graph_run::k_failed &&
              counts::k_finishing == graph_run::k_finishing);

std::atomic<std::int64_t>& scope_count(graph_impl& g) noexcept {
    return g.m_parent != nullptr ? g.m_parent->m_pending : g.m_run->m_pending;
}

/// Pushes ready node `n` onto `w`'s deque, tagged with its run (a wait on the run may
/// take it back: graph_run::try_claim).
void push_node(worker& w, graph_node* n, graph_run& run) {
    n->m_task.m_next = reinterpret_cast<task_base*>(&run);
    w.m_sched->spawn(w, &n->m_task);
}

/// The successors a finishing node makes ready: the first is kept (it inherits the
/// node's unit of its scope's count), the others are counted, then pushed.
class ready_set {
public:
    ready_set(worker& w, graph_impl& g) noexcept : m_worker{w}, m_graph{g} {}
    ready_set(const ready_set&) = delete;
    ready_set& operator=(const ready_set&) = delete;

    void add(graph_node* n) {
        if (m_keep == nullptr) {
            m_keep = n;
            return;
        }
        if (m_count == k_capacity) flush();
        m_batch[m_count++] = n;
    }
    /// Pushes what is left; returns the node to run next (null: none was ready).
    graph_node* finish() {
        flush();
        return m_keep;
    }

private:
    static constexpr std::uint32_t k_capacity = 32;
    void flush() {
        if (m_count == 0) return;
        counts::hand_out(scope_count(m_graph), m_count,
                         [this](std::uint32_t i) { push_node(m_worker, m_batch[i], *m_graph.m_run); });
        m_count = 0;
    }

    worker& m_worker;
    graph_impl& m_graph;
    graph_node* m_keep = nullptr;
    std::uint32_t m_count = 0;
    graph_node* m_batch[k_capacity];
};

/// Marks the scope that `n` belongs to as failed (its owner then fails too).
void mark_failed(const graph_node& n) noexcept {
    // relaxed: read by the thread that ends the scope, after the scope count's acq_rel
    // decrement that this node's finish makes later.
    if (graph_node* owner = n.m_graph->m_parent) owner->m_inner_failed.store(true, std::memory_order_relaxed);
}

/// Starts the nodes of scope `g` (the top level of a run, a subflow, a composed
/// graph): counts them all, pushes all but the first, returns the first.
graph_node* start_scope(worker& w, graph_impl& g, graph_run& run) {
    const std::size_t n = g.m_sources.size();
    // relaxed: the pushes (releases) order it before any decrement.
    scope_count(g).store(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    for (std::size_t i = 1; i < n; ++i) push_node(w, g.m_sources[i], run);
    return g.m_sources[0];
}

/// Gives graph `g` up (a run or a composed use of it ended): the next queued run, if
/// any, becomes its user (returned, to be launched), else it goes idle. The use still
/// counts in m_active until retire(): a run's future completes in between.
graph_run* hand_over(graph_impl& g, bool dirty) noexcept {
    const std::lock_guard lock{g.m_mutex};
    if (dirty) g.m_needs_reset = true;
    graph_run* next = g.m_queue_head;
    if (next != nullptr) {
        g.m_queue_head = next->m_next_queued;
        if (g.m_queue_head == nullptr) g.m_queue_tail = nullptr;
    }
    // release: a builder that sees idle sees the run's writes (it reads with acquire).
    g.m_state.store(next != nullptr ? graph_state::running : graph_state::idle, std::memory_order_release);
    return next;
}

/// A use of `g` is over for good: the destructor may return once none is left.
void retire(graph_impl& g) noexcept {
    const std::lock_guard lock{g.m_mutex};
    // At 1, a destructor called from the last run's own done-callback may be waiting.
    if (--g.m_active <= 1) g.m_idle_cv.notify_all();
    // Nothing of `g` is touched after the unlock: its destructor may run then.
}

/// Completes a run's future with `complete()` (its done-callbacks and inline
/// continuations run inside), then retires the run. A callback may destroy the graph
/// (the last shared_ptr to it, say): its destructor sees tls_concluding and does not
/// wait for this run, and the reference held here keeps the graph alive for retire().
template <class Complete>
void complete_then_retire(graph_impl& g, Complete complete) noexcept {
    g.add_ref();
    graph_impl* const outer = std::exchange(tls_concluding, &g);
    complete();
    tls_concluding = outer;
    retire(g);
    g.release();
}

/// Ends `run`: gives its graph to the next queued run (returned), completes the run's
/// future, then lets the graph's destructor go on (the future is done by then).
graph_run* end_run(graph_run& run) noexcept {
    const std::uint32_t flags = counts::decide(run.m_flags);
    graph_impl& g = *run.m_graph;
    graph_run* next = hand_over(g, (flags & (graph_run::k_cancel | graph_run::k_failed)) != 0);
    complete_then_retire(g, [&run] { run.conclude(); });
    return next;
}

/// A run that never started (cancelled while queued, or its executor refused it): its
/// graph goes to the next run (returned); the future fails with `e` unless cancelled.
graph_run* abandon_run(graph_run& run, std::exception_ptr e) noexcept {
    graph_impl& g = *run.m_graph;
    graph_run* next = hand_over(g, false);
    complete_then_retire(g, [&run, &e] {
        if (e) run.try_fail(std::move(e));
        run.release();  // the run's own reference
    });
    return next;
}

/// Starts the next iteration of `run` (false: the series is over). Owner of the graph.
bool next_iteration(worker& w, graph_run& run, graph_node*& keep) {
    graph_impl& g = *run.m_graph;
    for (;;) {
        if (run.m_pred) {
            bool stop = true;
            try {
                stop = run.m_pred();
            } catch (...) {
                run.fail(std::current_exception());
            }
            if (stop) return false;
        } else {
            if (run.m_times_left == 0) return false;
            --run.m_times_left;
        }
        if (run.cancel_requested()) return false;
        if (g.m_sources.empty()) continue;  // an empty graph: an iteration that does nothing
        if (g.m_needs_reset || g.m_has_conditions) {
            g.reset_counters();
            g.m_needs_reset = false;
        }
        g.m_run = &run;
        g.m_parent = nullptr;
        keep = start_scope(w, g, run);
        return true;
    }
}

graph_node* finish_node(worker& w, graph_node* n, int outcome);

/// A run's top-level scope ended: the next iteration, or the end of the run.
graph_node* end_iteration(worker& w, graph_run& run) {
    // relaxed: this thread ended the scope with an acq_rel RMW that follows every fail().
    if ((run.m_flags.load(std::memory_order_relaxed) & (graph_run::k_cancel | graph_run::k_failed)) == 0) {
        graph_node* keep = nullptr;
        if (next_iteration(w, run, keep)) return keep;
    }
    return launch_run(&w, end_run(run));
}

/// One node of scope `g` finished (with no successor kept): ends the scope if it was
/// the last, which finishes its owner or the run's iteration.
graph_node* scope_done(worker& w, graph_impl& g) {
    if (!counts::leave(scope_count(g))) return nullptr;
    graph_node* owner = g.m_parent;
    if (owner == nullptr) return end_iteration(w, *g.m_run);
    // relaxed: ordered by the acq_rel decrement above.
    const bool failed = owner->m_inner_failed.exchange(false, std::memory_order_relaxed);
    if (owner->m_kind == node_kind::composed) {
        const bool dirty = failed || g.m_run->cancel_requested();
        graph_run* next = hand_over(g, dirty);
        retire(g);
        if (next != nullptr) {
            if (graph_node* first = launch_run(&w, next)) push_node(w, first, *first->m_graph->m_run);
        }
    }
    if (failed) mark_failed(*owner);
    return finish_node(w, owner, failed ? k_no_successor : 0);
}

/// Node `n` finished with `outcome` (a condition's index; k_no_successor: failed,
/// skipped or no branch): makes its successors ready, returns the one to run next.
graph_node* finish_node(worker& w, graph_node* n, int outcome) {
    graph_impl& g = *n->m_graph;
    ready_set ready{w, g};
    if (outcome >= 0) {
        if (n->m_kind == node_kind::condition) {
            if (static_cast<std::uint32_t>(outcome) < n->m_succ.size()) ready.add(n->m_succ[static_cast<std::uint32_t>(outcome)]);
        } else {
            for (graph_node* s : n->m_succ)
                if (counts::arrive(s->m_join, s->m_strong_preds)) ready.add(s);
        }
    }
    if (graph_node* keep = ready.finish()) return keep;
    return scope_done(w, g);
}

/// Runs `n`'s callable with the node marked as this thread's current one.
int call_node(graph_node& n, subflow* sf) {
    node_frame frame{&n, tls_node_frames};
    tls_node_frames = &frame;
    struct restore {
        node_frame* m_outer;
        ~restore() { tls_node_frames = m_outer; }
    } const guard{frame.m_outer};
    return n.m_work.call(sf);
}

/// Runs a subflow node's callable, then starts the nodes it made (null: none).
graph_node* start_subflow(worker& w, graph_node& n, graph_run& run) {
    if (!n.m_child) {
        n.m_child = std::make_unique<graph_impl>(n.m_name);
        n.m_child->m_is_subflow = true;
    }
    graph_impl& c = *n.m_child;
    c.m_state.store(graph_state::idle, std::memory_order_relaxed);  // relaxed: this thread alone uses c now
    c.clear_nodes();
    c.m_run = &run;
    c.m_parent = &n;
    {
        subflow sf{&c};
        call_node(n, &sf);
    }
    // relaxed: only this thread builds c; a kept handle used later sees it (graph_error).
    c.m_state.store(graph_state::running, std::memory_order_relaxed);
    c.validate_locked("weft::subflow");
    if (c.m_sources.empty()) return nullptr;
    return start_scope(w, c, run);
}

/// Takes the composed graph of node `n` and starts its nodes (null: it has none).
graph_node* start_composed(worker& w, graph_node& n, graph_run& run) {
    graph_impl& inner = *n.m_composed;
    {
        const std::lock_guard lock{inner.m_mutex};
        if (inner.m_state.load(std::memory_order_relaxed) != graph_state::idle)  // relaxed: under m_mutex
            throw graph_error("weft::task_graph: " + inner.describe() + ", composed as " + label(n) +
                              ", is already running (a graph runs once at a time)");
        if (!inner.m_valid) inner.validate_locked("weft::task_graph::run (composed graph)");
        inner.m_state.store(graph_state::composed, std::memory_order_relaxed);  // relaxed: under m_mutex
        ++inner.m_active;
    }
    if (inner.m_needs_reset || inner.m_has_conditions) {
        inner.reset_counters();
        inner.m_needs_reset = false;
    }
    if (inner.m_sources.empty()) {
        graph_run* next = hand_over(inner, false);
        retire(inner);
        if (next != nullptr) {
            if (graph_node* first = launch_run(&w, next)) push_node(w, first, *first->m_graph->m_run);
        }
        return nullptr;
    }
    inner.m_run = &run;
    inner.m_parent = &n;
    return start_scope(w, inner, run);
}

/// Runs node `n`; returns the node to run next on this worker (null: none).
graph_node* execute(worker& w, graph_node* n) {
    graph_run& run = *n->m_graph->m_run;
    if (run.cancel_requested()) return finish_node(w, n, k_no_successor);
    counts::rearm(n->m_join, n->m_strong_preds);
    int outcome = 0;
    try {
        switch (n->m_kind) {
            case node_kind::placeholder: break;
            case node_kind::task: call_node(*n, nullptr); break;
            case node_kind::condition: outcome = call_node(*n, nullptr); break;
            case node_kind::subflow:
            case node_kind::composed: {
                n->m_inner_failed.store(false, std::memory_order_relaxed);  // relaxed: before the scope starts
                graph_node* first = n->m_kind == node_kind::subflow ? start_subflow(w, *n, run)
                                                                    : start_composed(w, *n, run);
                if (first != nullptr) return first;  // n finishes when its inner nodes have
                break;
            }
        }
    } catch (...) {
        run.fail(std::current_exception());
        mark_failed(*n);
        return finish_node(w, n, k_no_successor);
    }
    return finish_node(w, n, outcome);
}

void run_chain(worker& w, graph_node* n) noexcept {
    while (n != nullptr) n = execute(w, n);
}

void run_starter(task_base* t) noexcept {
    auto* s = reinterpret_cast<graph_run::starter*>(t);
    worker* w = current_worker();  // a worker of the run's executor: it was injected there
    run_chain(*w, launch_run(w, s->m_run));
}

}  // namespace

void run_node_task(task_base* t) noexcept { run_chain(*current_worker(), node_of(t)); }

graph_node* launch_run(worker* w, graph_run* run) noexcept {
    while (run != nullptr) {
        if (w != nullptr && w->m_sched->id() == run->sched_id()) {
            if (!run->m_started) {
                run->m_started = true;
                if (run->try_start() != start_result::started) {  // cancelled while queued
                    run = abandon_run(*run, nullptr);
                    continue;
                }
            }
            graph_node* keep = nullptr;
            if (next_iteration(*w, *run, keep)) return keep;
            run = end_run(*run);
            continue;
        }
        try {
            inject_by_id(run->sched_id(), &run->m_starter.m_task);
            return nullptr;
        } catch (...) {  // the executor is shut down or gone: the run fails unstarted
            run = abandon_run(*run, std::current_exception());
        }
    }
    return nullptr;
}

graph_run::graph_run(graph_impl& g, std::uint64_t sched_id, std::size_t times, std::function<bool()> pred)
    : shared_state<void>(sched_id, 2, 1),  // the future (a reader) and the run itself
      m_graph{&g},
      m_times_left{times},
      m_pred{std::move(pred)} {
    m_starter.m_task.m_invoke = &run_starter;
    m_starter.m_run = this;
}

void graph_run::fail(std::exception_ptr e) noexcept {
    if (counts::first_failure(m_flags)) m_error_first = std::move(e);
}

bool graph_run::cancel_running() noexcept { return counts::request_cancel(m_flags); }

void graph_run::conclude() noexcept {
    // relaxed: end_run's acq_rel RMW on this word came first on this thread.
    const std::uint32_t flags = m_flags.load(std::memory_order_relaxed);
    if ((flags & k_cancel) != 0) {
        try_complete_cancelled();
    } else {
        if ((flags & k_failed) != 0) set_error(std::move(m_error_first));  // one holder: the state
        complete();
    }
    release();  // the run's own reference
}

void graph_run::check_wait() const {
    if (inside_graph(*m_graph))
        throw graph_error("weft::task_graph: a node of " + m_graph->describe() +
                          " waits for a run of its own graph, which cannot finish before the node does");
}

bool graph_run::try_claim() noexcept {
    worker* w = current_worker();
    if (w == nullptr || w->m_sched->id() != sched_id()) return false;
    // A waiter runs only what it awaits: this run's nodes, from the top of its own deque.
    bool ran = false;
    task_base* t = nullptr;
    while (!is_done() && w->m_sched->pop_own_tagged(*w, this, t)) {
        w->m_sched->run_nested(*w, t);
        ran = true;
    }
    return ran;
}

bool inside_graph(const graph_impl& g) noexcept {
    for (const node_frame* f = tls_node_frames; f != nullptr; f = f->m_outer) {
        for (const graph_node* n = f->m_node; n != nullptr; n = n->m_graph->m_parent)
            if (n->m_graph == &g) return true;
    }
    return false;
}

}  // namespace weft::detail
