// weft — the inside of a task graph: nodes, the graph that owns them, a run. Private to
// lib/ (task_graph.cpp builds and checks graphs, graph_run.cpp runs them).
//
// A node is its own task (task_base first), so running a built graph pushes the nodes
// themselves onto the deques: no allocation per node per run. Counting, narrated:
//   * m_join: strong predecessors still to finish in this run. A node with one strong
//     predecessor never touches it (that predecessor alone makes it ready); a node with
//     more re-arms it when it starts (so a condition loop can run it again), and a run
//     after a failed, cancelled or conditional one resets every counter first.
//   * Scopes: the top-level graph's nodes count in the run's m_pending; the nodes of a
//     subflow or a composed graph count in the m_pending of the node that owns them.
//     A scope's count is the nodes scheduled and not finished. A finishing node passes
//     its own unit to the one successor it keeps and adds one per other successor it
//     pushes (before pushing it); with no successor to schedule it subtracts one, and
//     the thread that takes a scope to zero finishes the scope's owner (or the run).
#pragma once

#include <weft/detail/scheduler.hpp>
#include <weft/detail/shared_state.hpp>
#include <weft/task_graph.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace weft::detail {

class graph_run;

/// Node pointers: two inline, more on the heap. Owner-only.
class node_list {
public:
    node_list() noexcept = default;
    node_list(const node_list&) = delete;
    node_list& operator=(const node_list&) = delete;
    ~node_list() {
        if (m_data != m_inline) ::operator delete(m_data);
    }
    void push_back(graph_node* n) {
        if (m_size == m_cap) grow();
        m_data[m_size++] = n;
    }
    std::uint32_t size() const noexcept { return m_size; }
    graph_node* operator[](std::uint32_t i) const noexcept { return m_data[i]; }
    graph_node* const* begin() const noexcept { return m_data; }
    graph_node* const* end() const noexcept { return m_data + m_size; }

private:
    void grow();
    graph_node** m_data = m_inline;
    std::uint32_t m_size = 0;
    std::uint32_t m_cap = 2;
    graph_node* m_inline[2] = {};
};

/// One node. Built by the graph's owner; while a run is in flight only the counters
/// and (for a subflow) m_child change, each by the one thread that runs the node.
struct graph_node {
    graph_node(graph_impl* g, node_kind kind, std::uint32_t index) noexcept
        : m_kind{kind}, m_index{index}, m_graph{g} {}
    graph_node(const graph_node&) = delete;
    graph_node& operator=(const graph_node&) = delete;
    ~graph_node();

    task_base m_task;  // first: the node is its own task (its address is the node's)
    std::atomic<std::int32_t> m_join{0};
    std::atomic<std::int64_t> m_pending{0};   // subflow / composed: inner nodes not finished
    std::atomic<bool> m_inner_failed{false};  // subflow / composed: an inner node failed
    std::int32_t m_strong_preds = 0;
    std::int32_t m_weak_preds = 0;
    node_kind m_kind;
    std::uint32_t m_index;  // position in its graph
    graph_impl* m_graph;
    node_list m_succ;
    node_work m_work;
    std::string m_name;
    graph_impl* m_composed = nullptr;      // composed: the inner graph (one reference held)
    std::unique_ptr<graph_impl> m_child;   // subflow: its nodes, kept from the last run
};

inline graph_node* node_of(task_base* t) noexcept { return reinterpret_cast<graph_node*>(t); }

/// What a graph is doing: nothing, running (its own runs), or running as a composed
/// node of another graph's run.
enum class graph_state : std::uint8_t { idle, running, composed };

/// A graph's nodes, its checked shape, and its queue of runs. Owned by a task_graph
/// (and by composed nodes elsewhere, through the reference count), or by a subflow node.
class graph_impl {
public:
    explicit graph_impl(std::string name) : m_name{std::move(name)} {}
    graph_impl(const graph_impl&) = delete;
    graph_impl& operator=(const graph_impl&) = delete;
    ~graph_impl();

    void add_ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }  // relaxed: the caller holds one
    void release() noexcept {
        // acq_rel: the last owner sees every other owner's writes before deleting.
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // Building (owner-only).
    graph_node* add(node_kind kind);
    void pop_last() noexcept;
    void clear_nodes() noexcept;
    std::size_t size() const noexcept { return m_size; }
    graph_node& at(std::size_t i) const noexcept {
        return m_chunks[chunk_of(i)][i - chunk_start(chunk_of(i))];
    }
    /// Throws graph_error naming `who` unless the graph may change now.
    void check_changeable(const char* who) const;
    /// A display name for messages: the graph's name, quoted, or "an unnamed graph".
    std::string describe() const;

    /// Checks the shape (cycles, a node to start from), computes the sources and
    /// resets every counter. Throws graph_error naming `who`. Caller holds m_mutex (a
    /// subflow: its node's thread).
    void validate_locked(const char* who);
    /// Sets every join counter to its node's strong predecessor count.
    void reset_counters() noexcept;

    std::string m_name;
    std::vector<graph_node*> m_sources;        // valid while m_valid
    std::vector<graph_node*> m_composed_nodes; // changed under the compose mutex
    bool m_valid = false;
    bool m_has_conditions = false;
    bool m_needs_reset = false;  // a run left counters part-way (failed, cancelled)
    bool m_is_subflow = false;   // the nodes of a subflow node (m_name: that node's name)

    // While a run uses the graph (set before its sources are pushed).
    graph_run* m_run = nullptr;
    graph_node* m_parent = nullptr;  // the subflow or composed node the nodes join into

    std::atomic<graph_state> m_state{graph_state::idle};
    std::mutex m_mutex;                // m_state's changes, the queue, m_active, validation
    std::condition_variable m_idle_cv; // m_active reached 0
    std::uint32_t m_active = 0;        // runs queued or running, and composed uses
    graph_run* m_queue_head = nullptr; // runs waiting for the current one
    graph_run* m_queue_tail = nullptr;

private:
    static std::size_t chunk_of(std::size_t i) noexcept;
    static std::size_t chunk_start(std::size_t c) noexcept;
    static std::size_t chunk_capacity(std::size_t c) noexcept;

    std::vector<graph_node*> m_chunks;  // raw storage: chunk c holds chunk_capacity(c) nodes
    std::size_t m_size = 0;
    std::atomic<std::uint32_t> m_refs{1};
};

/// One call of run(), run_n() or run_until(): the future's state, the count of the
/// top-level scope, the first error and the cancel request.
class graph_run final : public shared_state<void> {
public:
    graph_run(graph_impl& g, std::uint64_t sched_id, std::size_t times, std::function<bool()> pred);

    static constexpr std::uint32_t k_cancel = 1;     // cancel() accepted
    static constexpr std::uint32_t k_failed = 2;     // a node threw; m_error_first is set
    static constexpr std::uint32_t k_finishing = 4;  // the outcome is decided

    bool cancel_requested() const noexcept {
        return (m_flags.load(std::memory_order_relaxed) & k_cancel) != 0;  // relaxed: a hint; the decision is finish's RMW
    }
    /// Records `e` if it is the first failure of this run.
    void fail(std::exception_ptr e) noexcept;

    bool cancel_running() noexcept override;
    void check_wait() const override;
    bool try_claim() noexcept override;

    /// Ends the run: stores its outcome (error, cancelled or done) and wakes its waiters.
    void conclude() noexcept;

    struct starter {
        task_base m_task;  // first: injected to begin the run on a worker of its executor
        graph_run* m_run;
    };

    graph_impl* m_graph;
    starter m_starter;
    std::size_t m_times_left;
    std::function<bool()> m_pred;  // run_until's, else empty
    bool m_started = false;        // try_start() done
    alignas(k_cache_line) std::atomic<std::int64_t> m_pending{0};
    std::atomic<std::uint32_t> m_flags{0};
    std::exception_ptr m_error_first;  // written by the fail() that set k_failed
    graph_run* m_next_queued = nullptr;
};

/// The graph whose run's future this thread is completing (graph_run.cpp), or null.
inline constinit thread_local graph_impl* tls_concluding = nullptr;

/// "node 'name'", or "unnamed node #i" (for messages).
std::string label(const graph_node& n);

/// The task body of every node: runs it and the successors it keeps (graph_run.cpp).
void run_node_task(task_base* t) noexcept;

/// The nodes whose callables this thread is running, innermost first (a node's
/// callable can wait, and a wait can run another node on the same thread).
struct node_frame {
    graph_node* m_node;
    node_frame* m_outer;
};
inline constinit thread_local node_frame* tls_node_frames = nullptr;

/// True if this thread is inside a callable of a node of `g`, or of a graph composed
/// into `g` or a subflow of one of its nodes, at any depth.
bool inside_graph(const graph_impl& g) noexcept;

/// Begins `run` (the graph is already marked as running it): on worker `w` of its
/// executor at once, else through its executor's injection queue. Returns a node for
/// the caller to run next, or null.
graph_node* launch_run(worker* w, graph_run* run) noexcept;

/// The compose mutex: guards every graph's m_composed_nodes (compose cycles are
/// refused at compose(), so nested graph mutexes follow the composition order).
std::mutex& compose_mutex() noexcept;

}  // namespace weft::detail
