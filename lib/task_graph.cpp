// weft — building and checking task graphs; task_graph's members. Running them is in
// graph_run.cpp, pictures in task_graph_dot.cpp.
#include "task_graph_impl.hpp"

#include <weft/detail/scheduler.hpp>

#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <unordered_set>
#include <vector>

namespace weft::detail {

// ---- storage ----------------------------------------------------------------------

void node_list::grow() {
    const std::uint32_t cap = m_cap * 2;
    auto** data = static_cast<graph_node**>(::operator new(cap * sizeof(graph_node*)));
    for (std::uint32_t i = 0; i < m_size; ++i) data[i] = m_data[i];
    if (m_data != m_inline) ::operator delete(m_data);
    m_data = data;
    m_cap = cap;
}

graph_node::~graph_node() {
    if (m_composed != nullptr) m_composed->release();
}

// Chunks of 4, 16 and 64 nodes, then of 256: a small graph (a subflow's) stays small,
// and node addresses never change.
std::size_t graph_impl::chunk_capacity(std::size_t c) noexcept { return c < 3 ? std::size_t{4} << (2 * c) : 256; }
std::size_t graph_impl::chunk_start(std::size_t c) noexcept { return c < 3 ? (c == 0 ? 0 : c == 1 ? 4 : 20) : 84 + 256 * (c - 3); }
std::size_t graph_impl::chunk_of(std::size_t i) noexcept { return i < 4 ? 0 : i < 20 ? 1 : i < 84 ? 2 : 3 + (i - 84) / 256; }

namespace {

/// Freed chunks of 256 nodes, kept (up to k_max_bytes) for the next graph. A big graph's
/// chunks are the top of the heap when it dies, so malloc would hand them back to the
/// kernel, and the next graph would pay a page fault per 4 KiB to build (on a VM, 15 us
/// each: 2.4x oneTBB's build time, docs/benchmarks/2026-11-29-2core-graphs). Thread-safe;
/// never destroyed (a graph may die during static destruction), and reachable, so leak
/// checkers do not count what it holds.
class chunk_cache {
public:
    static chunk_cache& instance() {
        static chunk_cache* const cache = new chunk_cache;
        return *cache;
    }
    void* take(std::size_t bytes) {
        {
            const std::lock_guard lock{m_mutex};
            if (!m_free.empty()) {
                void* p = m_free.back();
                m_free.pop_back();
                return p;
            }
        }
        return ::operator new(bytes);
    }
    void give(void* p) noexcept {
        {
            const std::lock_guard lock{m_mutex};
            if (m_free.size() < k_max_chunks) {
                m_free.push_back(p);  // no allocation: reserved to k_max_chunks
                return;
            }
        }
        ::operator delete(p);
    }

private:
    static constexpr std::size_t k_max_bytes = std::size_t{16} << 20;
    static constexpr std::size_t k_max_chunks = k_max_bytes / (256 * sizeof(graph_node));
    chunk_cache() { m_free.reserve(k_max_chunks); }
    std::mutex m_mutex;
    std::vector<void*> m_free;
};

}  // namespace

graph_impl::~graph_impl() {
    clear_nodes();
    for (std::size_t c = 0; c < m_chunks.size(); ++c) {
        if (chunk_capacity(c) == 256)
            chunk_cache::instance().give(m_chunks[c]);
        else
            ::operator delete(m_chunks[c]);
    }
}

graph_node* graph_impl::add(node_kind kind) {
    const std::size_t c = chunk_of(m_size);
    if (c == m_chunks.size()) {
        m_chunks.reserve(c + 1);
        const std::size_t bytes = chunk_capacity(c) * sizeof(graph_node);
        m_chunks.push_back(static_cast<graph_node*>(chunk_capacity(c) == 256 ? chunk_cache::instance().take(bytes)
                                                                               : ::operator new(bytes)));
    }
    auto* n = ::new (static_cast<void*>(m_chunks[c] + (m_size - chunk_start(c))))
        graph_node(this, kind, static_cast<std::uint32_t>(m_size));
    n->m_task.m_invoke = &run_node_task;
    ++m_size;
    m_valid = false;
    return n;
}

void graph_impl::pop_last() noexcept {
    at(m_size - 1).~graph_node();
    --m_size;
}

void graph_impl::clear_nodes() noexcept {
    if (!m_composed_nodes.empty()) {
        const std::lock_guard lock{compose_mutex()};
        m_composed_nodes.clear();
    }
    while (m_size > 0) pop_last();
    m_sources.clear();
    m_valid = false;
}

std::string graph_impl::describe() const {
    if (m_is_subflow) return m_name.empty() ? std::string{"the subflow of an unnamed node"} : "the subflow of node '" + m_name + "'";
    return m_name.empty() ? std::string{"an unnamed graph"} : "graph '" + m_name + "'";
}

void graph_impl::check_changeable(const char* who) const {
    // acquire: pairs with release_graph's release store, so a change after a run ends
    // happens after the run.
    if (m_state.load(std::memory_order_acquire) == graph_state::idle) return;
    if (m_is_subflow)
        throw graph_error(std::string{who} + ": " + describe() +
                          " changes only inside its node's callable, while that builds it");
    throw graph_error(std::string{who} + ": " + describe() + " is running; a graph cannot change while it runs");
}

void graph_impl::reset_counters() noexcept {
    for (std::size_t i = 0; i < m_size; ++i) {
        graph_node& n = at(i);
        n.m_join.store(n.m_strong_preds, std::memory_order_relaxed);  // relaxed: the pushes that start the run publish it
    }
}

std::mutex& compose_mutex() noexcept {
    static std::mutex m;
    return m;
}

std::string label(const graph_node& n) {
    return n.m_name.empty() ? "unnamed node #" + std::to_string(n.m_index) : "node '" + n.m_name + "'";
}

namespace {

/// A node on a cycle among the nodes Kahn's algorithm could not remove (indegree > 0):
/// each has a predecessor among them, so walking predecessors must come back.
const graph_node& node_on_cycle(const graph_impl& g, const std::vector<std::int32_t>& indegree) {
    std::vector<const graph_node*> pred(g.size(), nullptr);
    for (std::size_t i = 0; i < g.size(); ++i) {
        const graph_node& n = g.at(i);
        if (indegree[i] == 0 || n.m_kind == node_kind::condition) continue;
        for (const graph_node* s : n.m_succ)
            if (indegree[s->m_index] > 0) pred[s->m_index] = &n;
    }
    std::size_t start = 0;
    while (indegree[start] == 0) ++start;
    std::vector<bool> seen(g.size(), false);
    const graph_node* n = &g.at(start);
    while (!seen[n->m_index]) {
        seen[n->m_index] = true;
        n = pred[n->m_index];
    }
    return *n;
}

}  // namespace

void graph_impl::validate_locked(const char* who) {
    m_valid = false;
    m_sources.clear();
    m_has_conditions = false;
    std::vector<std::int32_t> indegree(m_size);
    std::vector<graph_node*> ready;
    ready.reserve(m_size);
    for (std::size_t i = 0; i < m_size; ++i) {
        graph_node& n = at(i);
        indegree[i] = n.m_strong_preds;
        if (n.m_strong_preds == 0) ready.push_back(&n);
        if (n.m_strong_preds == 0 && n.m_weak_preds == 0) m_sources.push_back(&n);
        if (n.m_kind == node_kind::condition) m_has_conditions = true;
    }
    std::size_t removed = 0;
    while (!ready.empty()) {
        graph_node* n = ready.back();
        ready.pop_back();
        ++removed;
        if (n->m_kind == node_kind::condition) continue;  // weak edges do not count
        for (graph_node* s : n->m_succ)
            if (--indegree[s->m_index] == 0) ready.push_back(s);
    }
    if (removed != m_size)
        throw graph_error(std::string{who} + ": " + describe() + " has a cycle of strong edges through " +
                          label(node_on_cycle(*this, indegree)));
    if (m_size > 0 && m_sources.empty())
        throw graph_error(std::string{who} + ": " + describe() +
                          " has nodes but none can start: every node has a predecessor");
    reset_counters();
    m_needs_reset = false;
    m_valid = true;
}

// ---- the builder's steps (task_graph.hpp) ------------------------------------------

graph_node* new_node(graph_impl& g, node_kind kind, const char* who) {
    g.check_changeable(who);
    return g.add(kind);
}

node_work& work_of(graph_node& n) noexcept { return n.m_work; }

void drop_new_node(graph_impl& g, graph_node* n) noexcept {
    (void)n;  // always the last one made
    g.pop_last();
}

namespace {

/// True if `from` is `target` or contains it through composed nodes. Under the compose mutex.
bool composes(const graph_impl& from, const graph_impl& target) {
    if (&from == &target) return true;
    for (const graph_node* n : from.m_composed_nodes)
        if (composes(*n->m_composed, target)) return true;
    return false;
}

}  // namespace

graph_node* new_composed_node(graph_impl& g, task_graph& inner_graph) {
    g.check_changeable("weft::task_graph::compose");
    graph_impl& inner = inner_graph.impl();
    const std::lock_guard lock{compose_mutex()};
    if (composes(inner, g))
        throw graph_error("weft::task_graph::compose: composing " + inner.describe() + " into " + g.describe() +
                          " would make a graph contain itself");
    g.m_composed_nodes.reserve(g.m_composed_nodes.size() + 1);
    graph_node* n = g.add(node_kind::composed);
    n->m_composed = &inner;
    inner.add_ref();
    n->m_name = inner.m_name;
    g.m_composed_nodes.push_back(n);
    return n;
}

namespace {

/// Checks every graph composed into `g`, at any depth, that is not running now.
void validate_composed(graph_impl& g, const char* who) {
    std::vector<graph_impl*> inner;
    {
        const std::lock_guard lock{compose_mutex()};
        std::unordered_set<graph_impl*> seen;
        std::vector<graph_impl*> todo{&g};
        while (!todo.empty()) {
            graph_impl* x = todo.back();
            todo.pop_back();
            for (graph_node* n : x->m_composed_nodes)
                if (seen.insert(n->m_composed).second) {
                    inner.push_back(n->m_composed);
                    todo.push_back(n->m_composed);
                }
        }
    }
    for (graph_impl* x : inner) {
        const std::lock_guard lock{x->m_mutex};
        if (!x->m_valid && x->m_state.load(std::memory_order_relaxed) == graph_state::idle)  // relaxed: under m_mutex
            x->validate_locked(who);
    }
}

/// Waits until no run of `g` is queued or running; terminates (with a message) when
/// called from inside one of its nodes, which would wait for itself.
void wait_until_idle(graph_impl& g) {
    if (inside_graph(g)) {
        std::fprintf(stderr,
                     "weft: %s destroyed (or assigned to) from inside one of its own nodes: it would wait for "
                     "its own run forever\n",
                     g.describe().c_str());
        std::terminate();
    }
    // A done-callback of this graph's run, destroying the graph while the run's future
    // completes on this thread, waits for the other uses only (graph_run.cpp).
    const std::uint32_t own = tls_concluding == &g ? 1 : 0;
    std::unique_lock lock{g.m_mutex};
    if (g.m_active == own) return;
    lock.unlock();
    const block_scope blocked;  // a worker keeps its executor's parallelism meanwhile
    lock.lock();
    g.m_idle_cv.wait(lock, [&] { return g.m_active == own; });
}

}  // namespace
}  // namespace weft::detail

namespace weft {

// ---- node -------------------------------------------------------------------------

detail::graph_node& node::checked(const char* who) const {
    if (m_node == nullptr) throw graph_error(std::string{who} + ": empty node handle");
    return *m_node;
}

node& node::name(std::string_view text) {
    detail::graph_node& n = checked("weft::node::name");
    n.m_graph->check_changeable("weft::node::name");
    n.m_name.assign(text);
    return *this;
}

const std::string& node::name() const { return checked("weft::node::name").m_name; }

void node::link(const node* const* others, std::size_t count, bool forward) {
    const char* who = forward ? "weft::node::precede" : "weft::node::succeed";
    detail::graph_node& self = checked(who);
    for (std::size_t i = 0; i < count; ++i) {
        const detail::graph_node& other = others[i]->checked(who);
        if (other.m_graph != self.m_graph)
            throw graph_error(std::string{who} + ": " + detail::label(other) + " belongs to another graph than " +
                              detail::label(self));
    }
    self.m_graph->check_changeable(who);
    for (std::size_t i = 0; i < count; ++i) {
        detail::graph_node& other = *others[i]->m_node;
        detail::graph_node& from = forward ? self : other;
        detail::graph_node& to = forward ? other : self;
        from.m_succ.push_back(&to);
        if (from.m_kind == node_kind::condition)
            ++to.m_weak_preds;
        else
            ++to.m_strong_preds;
    }
    self.m_graph->m_valid = false;
}

node_kind node::kind() const { return checked("weft::node::kind").m_kind; }
std::size_t node::num_successors() const { return checked("weft::node::num_successors").m_succ.size(); }
std::size_t node::num_predecessors() const {
    const detail::graph_node& n = checked("weft::node::num_predecessors");
    return static_cast<std::size_t>(n.m_strong_preds + n.m_weak_preds);
}
std::size_t node::num_strong_predecessors() const {
    return static_cast<std::size_t>(checked("weft::node::num_strong_predecessors").m_strong_preds);
}
std::size_t node::num_weak_predecessors() const {
    return static_cast<std::size_t>(checked("weft::node::num_weak_predecessors").m_weak_preds);
}

// ---- graph_builder ----------------------------------------------------------------

node graph_builder::compose(task_graph& inner) { return node{detail::new_composed_node(*m_impl, inner)}; }

node graph_builder::placeholder() {
    return node{detail::new_node(*m_impl, node_kind::placeholder, "weft::task_graph::placeholder")};
}

std::size_t graph_builder::size() const noexcept { return m_impl->size(); }

// ---- task_graph -------------------------------------------------------------------

task_graph::task_graph() : graph_builder(new detail::graph_impl(std::string{})) {}
task_graph::task_graph(std::string name) : graph_builder(new detail::graph_impl(std::move(name))) {}

task_graph::~task_graph() {
    detail::wait_until_idle(*m_impl);
    m_impl->release();
}

task_graph::task_graph(task_graph&& other)
    : graph_builder(std::exchange(other.m_impl, new detail::graph_impl(std::string{}))) {}

task_graph& task_graph::operator=(task_graph&& other) {
    if (this == &other) return *this;
    auto* fresh = new detail::graph_impl(std::string{});
    detail::wait_until_idle(*m_impl);
    m_impl->release();
    m_impl = std::exchange(other.m_impl, fresh);
    return *this;
}

const std::string& task_graph::name() const noexcept { return m_impl->m_name; }

task_graph& task_graph::name(std::string text) {
    m_impl->check_changeable("weft::task_graph::name");
    m_impl->m_name = std::move(text);
    return *this;
}

void task_graph::clear() {
    m_impl->check_changeable("weft::task_graph::clear");
    m_impl->clear_nodes();
}

void task_graph::validate() const {
    detail::graph_impl& g = *m_impl;
    detail::validate_composed(g, "weft::task_graph::validate");
    const std::lock_guard lock{g.m_mutex};
    // relaxed: under m_mutex. A running graph was checked before it started.
    if (!g.m_valid && g.m_state.load(std::memory_order_relaxed) == detail::graph_state::idle)
        g.validate_locked("weft::task_graph::validate");
}

bool task_graph::running() const noexcept {
    return m_impl->m_state.load(std::memory_order_acquire) != detail::graph_state::idle;  // acquire: as check_changeable
}

future<void> task_graph::start_run(executor& ex, std::size_t times, std::function<bool()> pred) {
    detail::graph_impl& g = *m_impl;
    if (ex.is_shut_down()) throw executor_shutdown_error("weft::task_graph::run: the executor is shut down");
    detail::validate_composed(g, "weft::task_graph::run");
    if (times == 0 && !pred) {  // run_n(ex, 0): nothing to run, nothing to queue
        const std::lock_guard lock{g.m_mutex};
        if (!g.m_valid && g.m_state.load(std::memory_order_relaxed) == detail::graph_state::idle)  // relaxed: under m_mutex
            g.validate_locked("weft::task_graph::run_n");
        return make_ready_future();
    }
    auto* run = new detail::graph_run(g, ex.sink_id(), times, std::move(pred));
    bool start_now = false;
    {
        std::unique_lock lock{g.m_mutex};
        if (!g.m_valid) {  // a running graph is valid: it cannot change
            try {
                g.validate_locked("weft::task_graph::run");
            } catch (...) {
                lock.unlock();
                delete run;
                throw;
            }
        }
        ++g.m_active;
        // relaxed: under m_mutex.
        if (g.m_state.load(std::memory_order_relaxed) == detail::graph_state::idle) {
            g.m_state.store(detail::graph_state::running, std::memory_order_relaxed);
            start_now = true;
        } else {
            (g.m_queue_tail != nullptr ? g.m_queue_tail->m_next_queued : g.m_queue_head) = run;
            g.m_queue_tail = run;
        }
    }
    future<void> result = detail::future_access::adopt<void>(run);
    if (start_now) {
        detail::worker* w = detail::current_worker();
        if (detail::graph_node* first = detail::launch_run(w, run)) {
            first->m_task.m_next = reinterpret_cast<detail::task_base*>(first->m_graph->m_run);
            w->m_sched->spawn(*w, &first->m_task);
        }
    }
    return result;
}

}  // namespace weft
