// weft model tests — Relacy model of lib/graph_counts.hpp, the counting that runs a task
// graph (lib/graph_run.cpp), compiled against rl_atomics.
//
// Each node's output is an rl::var<int>: a node reads its predecessors' outputs, and
// the thread that ends the run reads every output (as the run's waiter does); a read
// without a happens-before edge to the write is a DATA RACE. A deque of one slot stands
// for the worker's deque: the owner publishes a ready node with a release store, and the
// owner (pop) or the thief (steal) takes it with an acquire exchange, exactly once.
//
//   diamond   A -> {B, C} -> D. The owner runs A, keeps B, hands C out (counted, then
//             published), runs B; B and C arrive at D (join counter 2); whoever is last
//             runs D; D leaves the scope and ends the run. The thief may steal C.
//   fork      A -> {B, C}, both sinks; C throws (first_failure, then its error is
//             written). B and C leave the scope; the last one ends the run and reads
//             both outputs and the error.
//   cancel    the run ends (decide) while a thread cancels it (request_cancel): a cancel
//             that returns true must find the run ending cancelled.
// after() checks: every node ran exactly once, the run ended exactly once, after every
// node. Mutants: relaxed_join (diamond: D reads C's output unsynchronised),
// count_after_push (fork/diamond: the stolen C leaves before it is counted, so the run
// ends while B has not run), relaxed_leave (fork: the end reads an output
// unsynchronised), cancel_by_store (cancel: accepted, yet the run ends not cancelled).
#include "../../lib/graph_counts.hpp"

#include <cstdint>
#include <vector>

#include "model_runner.hpp"

namespace weft::model {
namespace {

using weft::detail::graph_fault;

enum node_id : unsigned { A, B, C, D, k_nodes };

template <graph_fault Fault, bool Diamond>
struct graph_test : rl::test_suite<graph_test<Fault, Diamond>, 2> {
    using counts = weft::detail::graph_counts<rl_atomics, Fault>;
    template <class U>
    using atomic = typename rl_atomics::template atomic<U>;

    atomic<std::int64_t> m_scope;  // the run's scope: A is counted at the start
    atomic<std::int32_t> m_join_d;
    atomic<std::uint32_t> m_flags;
    atomic<int> m_slot;  // 1: C is published and not yet taken
    rl::var<int> m_out[k_nodes];
    rl::var<int> m_error;
    unsigned m_runs[k_nodes] = {};  // plain: the checker's own state
    unsigned m_ends = 0;

    void before() {
        m_scope.store(1, std::memory_order_relaxed);
        m_join_d.store(2, std::memory_order_relaxed);
        m_flags.store(0, std::memory_order_relaxed);
        m_slot.store(0, std::memory_order_relaxed);
        m_error($) = 0;
    }

    void after() {
        RL_ASSERT(m_ends == 1);
        for (unsigned i = 0; i < (Diamond ? 4U : 3U); ++i) RL_ASSERT(m_runs[i] == 1);
    }

    void end_run() {
        ++m_ends;
        const std::uint32_t flags = counts::decide(m_flags);
        for (unsigned i = 0; i < (Diamond ? 4U : 3U); ++i) RL_ASSERT(m_runs[i] == 1);  // nothing left to run
        RL_ASSERT(m_out[A]($) == 1);
        RL_ASSERT(m_out[B]($) == 2);
        RL_ASSERT(m_out[C]($) == 2);
        if (Diamond) {
            RL_ASSERT(m_out[D]($) == 5);
        } else {
            RL_ASSERT((flags & counts::k_failed) != 0);
            RL_ASSERT(m_error($) == 7);  // written by the first failure before it left
        }
    }

    void leave() {
        if (counts::leave(m_scope)) end_run();
    }

    void run_d() {
        ++m_runs[D];
        m_out[D]($) = 1 + m_out[B]($) + m_out[C]($);  // both predecessors' work, via the join
        leave();
    }

    /// B or C finished: in the diamond it arrives at D (keeping D if last), else leaves.
    void finish_middle(bool failed) {
        if (Diamond && !failed && counts::arrive(m_join_d, 2)) {
            run_d();  // kept: inherits this node's unit of the scope
            return;
        }
        leave();
    }

    void run_c() {
        ++m_runs[C];
        m_out[C]($) = m_out[A]($) + 1;
        const bool failed = !Diamond;
        if (failed && counts::first_failure(m_flags)) m_error($) = 7;
        finish_middle(failed);
    }

    void owner() {
        ++m_runs[A];
        m_out[A]($) = 1;
        // A's successors B and C (one strong predecessor each): keep B, hand C out.
        RL_ASSERT(counts::arrive(m_join_d /* unused for strong == 1 */, 1));
        counts::hand_out(m_scope, 1, [this](std::uint32_t) { m_slot.store(1, std::memory_order_release); });
        ++m_runs[B];
        m_out[B]($) = m_out[A]($) + 1;
        finish_middle(false);
        if (m_slot.exchange(0, std::memory_order_acquire) == 1) run_c();  // pop: the thief did not take it
    }

    void thief() {
        if (m_slot.exchange(0, std::memory_order_acquire) == 1) run_c();  // steal
    }

    void thread(unsigned index) {
        if (index == 0)
            owner();
        else
            thief();
    }
};

template <graph_fault Fault>
struct cancel_test : rl::test_suite<cancel_test<Fault>, 2> {
    using counts = weft::detail::graph_counts<rl_atomics, Fault>;
    typename rl_atomics::template atomic<std::uint32_t> m_flags;
    bool m_accepted = false;
    std::uint32_t m_outcome = 0;

    void before() { m_flags.store(0, std::memory_order_relaxed); }
    void after() {
        if (m_accepted) RL_ASSERT((m_outcome & counts::k_cancel) != 0);
        RL_ASSERT((m_outcome & counts::k_finishing) != 0);
    }
    void thread(unsigned index) {
        if (index == 0)
            m_outcome = counts::decide(m_flags);
        else
            m_accepted = counts::request_cancel(m_flags);
    }
};

constexpr search_config k_full{rl::sched_full, 0, 0};

template <graph_fault Fault>
std::vector<scenario> scenarios() {
    using diamond = graph_test<Fault, true>;
    using fork = graph_test<Fault, false>;
    using cancel = cancel_test<Fault>;
    return {
        {"diamond", [] { return simulate_scenario<diamond>("diamond", k_full); }},
        {"fork", [] { return simulate_scenario<fork>("fork", k_full); }},
        {"cancel", [] { return simulate_scenario<cancel>("cancel", k_full); }},
    };
}

}  // namespace
}  // namespace weft::model

int main(int argc, char** argv) {
    using namespace weft::model;
    using weft::detail::graph_fault;
    const std::vector<variant> variants{
        {"none", false, scenarios<graph_fault::none>()},
        {"relaxed_join", true, scenarios<graph_fault::relaxed_join>()},
        {"count_after_push", true, scenarios<graph_fault::count_after_push>()},
        {"relaxed_leave", true, scenarios<graph_fault::relaxed_leave>()},
        {"cancel_by_store", true, scenarios<graph_fault::cancel_by_store>()},
    };
    return run_model_main("graph_counts", variants, argc, argv);
}
