// weft — task graphs: build a DAG of tasks once, run it many times (Taskflow's model,
// on weft's executor). docs/api/graphs.md is the user's guide; docs/design/graphs.md
// says how a run works.
//
//   weft::task_graph g{"etl"};
//   weft::node load  = g.emplace([] { load(); }).name("load");
//   weft::node parse = g.emplace([] { parse(); }).name("parse");
//   load.precede(parse);
//   g.run(ex).get();                       // again and again: nothing is rebuilt
//
// Edges out of a condition node are weak: the node's int result picks the one successor
// that runs. All other edges are strong: a node runs once all its strong predecessors
// have finished, or at once when a condition node picks it, whatever its strong
// predecessors (as in Taskflow: a loop's body has its entry as strong predecessor and
// the loop's condition as weak one). Strong edges must form a DAG (a cycle throws graph_error, naming a node
// on it); a cycle through a condition node is a loop.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/detail/task.hpp>
#include <weft/errors.hpp>
#include <weft/executor.hpp>
#include <weft/future.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <new>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {

class node;
class subflow;
class task_graph;

/// What a node does when it runs.
enum class node_kind : std::uint8_t {
    placeholder,  // nothing (a join point); made by placeholder()
    task,         // f()
    subflow,      // f(weft::subflow&): dynamic work, joined before the node's successors
    condition,    // f() -> integer: the index of the one successor to run
    composed,     // a whole other task_graph, run as one node (compose())
};

namespace detail {

struct graph_node;
class graph_impl;

/// A node's callable, stored inline when it fits (no allocation), else on the heap.
/// Owner-only (the graph's builder, then the one thread running the node).
class node_work {
public:
    static constexpr std::size_t k_inline_size = 48;

    node_work() noexcept = default;
    node_work(const node_work&) = delete;
    node_work& operator=(const node_work&) = delete;
    ~node_work() { reset(); }

    /// Stores `f`, called as node kind `Kind` asks.
    template <node_kind Kind, class F>
    void emplace(F&& f);
    /// Calls the callable: a condition's index, 0 for other kinds.
    int call(subflow* sf) { return m_call(target(), sf); }
    bool empty() const noexcept { return m_call == nullptr; }
    void reset() noexcept {
        if (m_destroy != nullptr) m_destroy(target(), m_heap != nullptr);
        m_call = nullptr;
        m_destroy = nullptr;
        m_heap = nullptr;
    }

private:
    using call_fn = int (*)(void* fn, subflow* sf);
    using destroy_fn = void (*)(void* fn, bool on_heap) noexcept;
    void* target() noexcept { return m_heap != nullptr ? m_heap : static_cast<void*>(m_buf); }

    alignas(std::max_align_t) unsigned char m_buf[k_inline_size];
    void* m_heap = nullptr;
    call_fn m_call = nullptr;
    destroy_fn m_destroy = nullptr;
};

template <node_kind Kind, class F>
void node_work::emplace(F&& f) {
    using fn = std::decay_t<F>;
    constexpr bool fits = sizeof(fn) <= k_inline_size && alignof(fn) <= alignof(std::max_align_t) &&
                          std::is_nothrow_move_constructible_v<fn>;
    reset();
    if constexpr (fits) {
        ::new (static_cast<void*>(m_buf)) fn(std::forward<F>(f));
    } else {
        m_heap = new fn(std::forward<F>(f));
    }
    m_destroy = [](void* p, bool on_heap) noexcept {
        if (on_heap)
            delete static_cast<fn*>(p);
        else
            static_cast<fn*>(p)->~fn();
    };
    m_call = [](void* p, subflow* sf) -> int {
        fn& g = *static_cast<fn*>(p);
        if constexpr (Kind == node_kind::subflow) {
            g(*sf);
            return 0;
        } else if constexpr (Kind == node_kind::condition) {
            (void)sf;
            // A negative or out-of-range index runs no successor; clamped to int's range.
            const auto r = g();
            if (std::cmp_less(r, -1)) return -1;
            if (std::cmp_greater(r, 0x7fff'ffff)) return 0x7fff'ffff;
            return static_cast<int>(r);
        } else {
            (void)sf;
            g();
            return 0;
        }
    };
}

// The builder's out-of-line steps (lib/task_graph.cpp). Each throws graph_error while
// the graph runs.
graph_node* new_node(graph_impl& g, node_kind kind, const char* who);
node_work& work_of(graph_node& n) noexcept;
void drop_new_node(graph_impl& g, graph_node* n) noexcept;
graph_node* new_composed_node(graph_impl& g, task_graph& inner);

template <class>
using as_node = node;

template <class F>
inline constexpr bool is_condition_result =
    std::integral<std::invoke_result_t<F&>> && !std::same_as<std::invoke_result_t<F&>, bool>;

}  // namespace detail

/// A handle to a node of a task_graph (or of a subflow): cheap to copy, compared by
/// identity, valid while its graph lives. A default-constructed node is empty; using it
/// throws graph_error.
///
/// Thread safety: reading is thread-safe; changing a node (name, edges) is owner-only,
/// and throws graph_error while its graph runs.
class node {
public:
    node() noexcept = default;

    /// True if this handle refers to a node.
    bool valid() const noexcept { return m_node != nullptr; }

    /// Sets the name shown by dump_dot and in error messages.
    node& name(std::string_view text);
    /// The name ("" if none was given).
    const std::string& name() const;

    /// Adds strong edges this -> each of `others` (weak ones if this is a condition
    /// node: its result is the index among its successors, in the order added). Throws
    /// graph_error for an empty node, a node of another graph, or while the graph runs.
    template <class... Nodes>
        requires(sizeof...(Nodes) > 0 && (std::convertible_to<const Nodes&, const node&> && ...))
    node& precede(const Nodes&... others) {
        const node* list[] = {&static_cast<const node&>(others)...};
        link(list, sizeof...(Nodes), true);
        return *this;
    }
    /// As precede(...), for each node of a range.
    template <std::ranges::input_range R>
        requires std::convertible_to<std::ranges::range_reference_t<R>, const node&>
    node& precede(R&& others) {
        for (const node& n : others) link_one(n, true);
        return *this;
    }
    /// Adds edges each of `others` -> this.
    template <class... Nodes>
        requires(sizeof...(Nodes) > 0 && (std::convertible_to<const Nodes&, const node&> && ...))
    node& succeed(const Nodes&... others) {
        const node* list[] = {&static_cast<const node&>(others)...};
        link(list, sizeof...(Nodes), false);
        return *this;
    }
    /// As succeed(...), for each node of a range.
    template <std::ranges::input_range R>
        requires std::convertible_to<std::ranges::range_reference_t<R>, const node&>
    node& succeed(R&& others) {
        for (const node& n : others) link_one(n, false);
        return *this;
    }

    node_kind kind() const;
    std::size_t num_successors() const;
    /// Predecessors along strong edges plus those along weak ones (condition nodes).
    std::size_t num_predecessors() const;
    std::size_t num_strong_predecessors() const;
    std::size_t num_weak_predecessors() const;

    friend bool operator==(const node& a, const node& b) noexcept = default;

private:
    friend class graph_builder;
    explicit node(detail::graph_node* n) noexcept : m_node{n} {}
    void link(const node* const* others, std::size_t count, bool forward);
    void link_one(const node& other, bool forward) {
        const node* p = &other;
        link(&p, 1, forward);
    }
    detail::graph_node& checked(const char* who) const;

    detail::graph_node* m_node = nullptr;
};

/// What task_graph and subflow share: making nodes.
///
/// Thread safety: owner-only; throws graph_error while the graph runs (a subflow is
/// built by its node's callable, while it runs, and nowhere else).
class graph_builder {
public:
    /// A node that runs `f()` (returning void), or `f(sf)` with a weft::subflow& `sf` to
    /// which it adds nodes that run, joined, before this node's successors. Throws
    /// std::invalid_argument for an empty callable.
    template <class F>
    node emplace(F&& f);
    /// Several nodes at once: `auto [a, b, c] = g.emplace(fa, fb, fc);`.
    template <class F0, class F1, class... Fs>
    std::tuple<node, node, detail::as_node<Fs>...> emplace(F0&& f0, F1&& f1, Fs&&... fs) {
        return {emplace(std::forward<F0>(f0)), emplace(std::forward<F1>(f1)), emplace(std::forward<Fs>(fs))...};
    }
    /// A condition node: `f()` returns an integer, the index (in the order precede()
    /// added them) of the one successor that runs next; out of range or negative: none.
    template <class F>
    node emplace_condition(F&& f);
    /// A node that runs the whole of `inner` (which must outlive this graph's runs, and
    /// is not itself running when this node starts: graph_error otherwise). Throws
    /// graph_error if `inner` is this graph or already contains this graph.
    node compose(task_graph& inner);
    /// A node that does nothing: a join point.
    node placeholder();

    /// Number of nodes.
    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }

protected:
    explicit graph_builder(detail::graph_impl* impl) noexcept : m_impl{impl} {}
    ~graph_builder() = default;
    graph_builder(const graph_builder&) = delete;
    graph_builder& operator=(const graph_builder&) = delete;

    detail::graph_impl* m_impl;
};

/// The builder a subflow node's callable receives: nodes added to it run after the
/// callable returns, and the node's successors run after all of them. Subflows nest.
/// Owner-only: used by the callable alone, on its thread, while it runs.
class subflow : public graph_builder {
public:
    subflow(const subflow&) = delete;
    subflow& operator=(const subflow&) = delete;

    /// Not API: made by the node that runs the callable.
    explicit subflow(detail::graph_impl* impl) noexcept : graph_builder(impl) {}
};

/// A reusable DAG of tasks.
///
/// Thread safety: run(), run_n(), run_until(), running(), dump_dot() and the read-only
/// members are thread-safe; building (emplace, precede, name, clear, ...) is owner-only
/// and throws graph_error while the graph runs.
///
/// Runs: a run of a graph that is still running is queued behind it, never concurrent
/// with it; its future completes after every node that runs in it has finished. An
/// exception in a node skips everything downstream of that node, lets independent
/// branches finish and ends the run with the same exception_ptr (the first, if several
/// nodes throw). Cancelling a run's future stops scheduling new nodes; running ones
/// finish; the future ends cancelled. A graph can be run again after any of these.
class task_graph : public graph_builder {
public:
    task_graph();
    explicit task_graph(std::string name);
    /// Waits until every run of this graph (queued ones too) has finished. Destroying a
    /// graph from inside one of its own nodes would wait forever: it is reported on
    /// stderr and terminates.
    ~task_graph();
    /// Moves the nodes and runs; `other` is left empty. Node handles stay valid.
    task_graph(task_graph&& other);
    /// Waits for this graph's runs (as the destructor), then takes `other`'s nodes.
    task_graph& operator=(task_graph&& other);

    const std::string& name() const noexcept;
    task_graph& name(std::string text);

    /// Removes every node. Throws graph_error while the graph runs.
    void clear();

    /// Throws graph_error if strong edges form a cycle (naming a node on it), here or
    /// in a composed graph, or if the graph has nodes but none can start. run() does the
    /// same check before anything runs.
    void validate() const;

    /// Runs the graph once on `ex`. Throws graph_error (see validate()) or
    /// executor_shutdown_error before anything runs.
    [[nodiscard]] future<void> run(executor& ex) { return start_run(ex, 1, {}); }
    /// Runs the graph `times` times, one run after the other (0: a ready future). A
    /// failed or cancelled run ends the series.
    [[nodiscard]] future<void> run_n(executor& ex, std::size_t times) { return start_run(ex, times, {}); }
    /// Runs the graph until `pred()` returns true, checking before each run (so a pred
    /// already true runs nothing). `pred` runs on a worker, never at once with itself.
    template <class Pred>
    [[nodiscard]] future<void> run_until(executor& ex, Pred&& pred) {
        static_assert(std::is_invocable_r_v<bool, std::decay_t<Pred>&>,
                      "weft::task_graph::run_until: pred must be callable as pred() -> bool");
        if constexpr (std::is_invocable_r_v<bool, std::decay_t<Pred>&>) {
            if (detail::is_empty_callable(pred))
                throw std::invalid_argument("weft::task_graph::run_until: empty predicate");
            return start_run(ex, 0, std::function<bool()>(std::forward<Pred>(pred)));
        }
    }

    /// True while a run of this graph is running or queued, or a composed node of
    /// another graph's run is running it.
    bool running() const noexcept;

    /// Writes the graph in Graphviz DOT: nodes by name, composed graphs and the last
    /// run's subflows as clusters, condition edges dashed.
    void dump_dot(std::ostream& os) const;
    std::string dump_dot() const;

    /// Not API: the implementation.
    detail::graph_impl& impl() const noexcept { return *m_impl; }

private:
    future<void> start_run(executor& ex, std::size_t times, std::function<bool()> pred);
};

template <class F>
node graph_builder::emplace(F&& f) {
    using fn = std::decay_t<F>;
    if constexpr (std::is_invocable_v<fn&, subflow&>) {
        if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::task_graph::emplace: empty callable");
        detail::graph_node* n = detail::new_node(*m_impl, node_kind::subflow, "weft::task_graph::emplace");
        try {
            detail::work_of(*n).emplace<node_kind::subflow>(std::forward<F>(f));
        } catch (...) {
            detail::drop_new_node(*m_impl, n);
            throw;
        }
        return node{n};
    } else if constexpr (!std::is_invocable_v<fn&>) {
        static_assert(std::is_invocable_v<fn&>,
                      "weft::task_graph::emplace: f must be callable as f() or f(weft::subflow&)");
        return node{};
    } else if constexpr (!std::is_void_v<std::invoke_result_t<fn&>>) {
        static_assert(std::is_void_v<std::invoke_result_t<fn&>>,
                      "weft::task_graph::emplace: f returns a value; a condition node is made with "
                      "emplace_condition, and a plain node's f returns void");
        return node{};
    } else {
        if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::task_graph::emplace: empty callable");
        detail::graph_node* n = detail::new_node(*m_impl, node_kind::task, "weft::task_graph::emplace");
        try {
            detail::work_of(*n).emplace<node_kind::task>(std::forward<F>(f));
        } catch (...) {
            detail::drop_new_node(*m_impl, n);
            throw;
        }
        return node{n};
    }
}

template <class F>
node graph_builder::emplace_condition(F&& f) {
    using fn = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<fn&>) {
        static_assert(std::is_invocable_v<fn&>, "weft::task_graph::emplace_condition: f must be callable as f()");
        return node{};
    } else if constexpr (!detail::is_condition_result<fn>) {
        static_assert(detail::is_condition_result<fn>,
                      "weft::task_graph::emplace_condition: f() must return an integer (not bool): the "
                      "index of the successor to run");
        return node{};
    } else {
        if (detail::is_empty_callable(f))
            throw std::invalid_argument("weft::task_graph::emplace_condition: empty callable");
        detail::graph_node* n =
            detail::new_node(*m_impl, node_kind::condition, "weft::task_graph::emplace_condition");
        try {
            detail::work_of(*n).emplace<node_kind::condition>(std::forward<F>(f));
        } catch (...) {
            detail::drop_new_node(*m_impl, n);
            throw;
        }
        return node{n};
    }
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
