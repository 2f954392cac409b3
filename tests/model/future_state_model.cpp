// weft model tests — Relacy model of detail/future_state.hpp, the very templates that
// ship (`state_word` and `continuation_list`), compiled against rl_atomics (whose
// wait/wake is a futex made of a Relacy mutex and condition variable, so a lost wake-up
// leaves a waiter blocked for good and Relacy reports DEADLOCK).
//
// The result of the future is an rl::var<int>: a reader without a happens-before edge
// from its writer is a DATA RACE. Around the templates the model replays
// detail/shared_state.hpp:
//
//   completer (try_set_value)            waiter (state_base::wait off a worker)
//   -------------------------            --------------------------------------
//   if try_begin_complete():             word.wait()
//       value = 42                       phase() == finished -> read value == 42
//       end_complete()                   phase() == cancelled -> no value
//   canceller (cancel): try_cancel()
//
//   pusher (add_continuation)            closer (complete -> run_continuations)
//   -------------------------            --------------------------------------
//   node.payload = id                    value = 42
//   if !push(node): run(node) now        for n in close(): run(n)
//   run(n): n's payload intact, value == 42, n run exactly once
//
// Scenarios:
//   one_waiter     completer + 1 waiter.
//   two_waiters    completer + 2 waiters (one may find the waiter bit already set).
//   cancel_race    completer + canceller + 1 waiter: exactly one of try_begin_complete
//                  and try_cancel wins; the waiter wakes in either case.
//   continuations  pusher A pushes 2 nodes, pusher B pushes 1, the closer writes the
//                  value and closes: each node runs exactly once, either from close()'s
//                  list (in push order) or at once by its pusher.
// after() checks that every waiter returned and every node ran exactly once. A waiter
// left asleep is a DEADLOCK (reported by Relacy when every thread is blocked or done).
#include <weft/detail/future_state.hpp>

#include <array>
#include <cstdint>

#include "model_runner.hpp"

namespace weft::model {
namespace {

using weft::detail::future_fault;
using weft::detail::future_phase;

constexpr int k_value = 42;

// ---- (a) the state word: waiter/completer handshake, cancel race -------------------

template <future_fault Fault, unsigned Waiters, bool Canceller>
struct handshake_test
    : rl::test_suite<handshake_test<Fault, Waiters, Canceller>, 1 + Canceller + Waiters> {
    using word_t = weft::detail::state_word<rl_atomics, Fault>;

    word_t m_word;
    rl::var<int> m_value;
    // plain: the checker's own state
    unsigned m_completed = 0;
    unsigned m_cancelled = 0;
    unsigned m_woken = 0;

    void after() {
        RL_ASSERT(m_completed + m_cancelled == 1);  // exactly one winner
        RL_ASSERT(m_woken == Waiters);              // every waiter returned
    }

    void completer() {
        if (!m_word.try_begin_complete()) return;  // lost to the canceller
        m_value($) = k_value;                      // we alone hold `completing`
        ++m_completed;
        m_word.end_complete();
    }

    void canceller() {
        if (m_word.try_cancel()) ++m_cancelled;
    }

    void waiter() {
        m_word.wait();
        const future_phase p = m_word.phase();
        if (p == future_phase::finished) {
            RL_ASSERT(m_value($) == k_value);  // published by end_complete()
        } else {
            RL_ASSERT(Canceller && p == future_phase::cancelled);
        }
        ++m_woken;
    }

    void thread(unsigned index) {
        if (index == 0)
            completer();
        else if (Canceller && index == 1)
            canceller();
        else
            waiter();
    }
};

// ---- (b) the continuation list ----------------------------------------------------

struct node {
    node* m_next = nullptr;  // continuation_list's link
    rl::var<int> m_payload;  // written by the pusher before push()
    unsigned m_id = 0;       // plain: set in before(), read-only afterwards
};

constexpr unsigned k_nodes = 3;  // pusher A: nodes 0 and 1; pusher B: node 2

template <future_fault Fault>
struct list_test : rl::test_suite<list_test<Fault>, 3> {
    using list_t = weft::detail::continuation_list<node, rl_atomics, Fault>;

    list_t m_list;
    std::array<node, k_nodes> m_nodes;
    rl::var<int> m_value;
    std::array<unsigned, k_nodes> m_runs{};  // plain: the checker's own state

    void before() {
        for (unsigned i = 0; i != k_nodes; ++i) m_nodes[i].m_id = i;
    }

    void after() {
        for (unsigned i = 0; i != k_nodes; ++i) RL_ASSERT(m_runs[i] == 1);  // exactly once
    }

    static int payload_of(unsigned id) { return 100 + static_cast<int>(id); }

    // As a continuation's m_run: it reads the done state's value.
    void run(node& n) {
        RL_ASSERT(n.m_payload($) == payload_of(n.m_id));  // pushed before close()
        RL_ASSERT(m_value($) == k_value);                  // written before close()
        RL_ASSERT(m_runs[n.m_id] == 0);
        ++m_runs[n.m_id];
    }

    void pusher(unsigned first, unsigned count) {
        for (unsigned i = first; i != first + count; ++i) {
            node& n = m_nodes[i];
            n.m_payload($) = payload_of(i);
            if (!m_list.push(&n)) run(n);  // closed: run it now (add_continuation)
        }
    }

    void closer() {
        m_value($) = k_value;
        unsigned last_a = 0;  // push order: node 0 before node 1
        bool seen_a = false;
        for (node* n = m_list.close(); n != nullptr;) {
            node* next = n->m_next;  // n may be freed by its own run in the library
            if (n->m_id < 2) {
                RL_ASSERT(!seen_a || n->m_id > last_a);
                seen_a = true;
                last_a = n->m_id;
            }
            run(*n);
            n = next;
        }
    }

    void thread(unsigned index) {
        if (index == 0)
            pusher(0, 2);
        else if (index == 1)
            pusher(2, 1);
        else
            closer();
    }
};

// Search budgets: a few seconds each on a 2-core box. The context-bound searches are
// exhaustive up to that many preemptions; the random one samples deeper interleavings.
constexpr search_config k_bound3{rl::sched_bound, 0, 3};
constexpr search_config k_bound4{rl::sched_bound, 0, 4};
constexpr search_config k_random{rl::sched_random, 200000, 0};

template <future_fault Fault>
std::vector<scenario> scenarios() {
    using one_waiter = handshake_test<Fault, 1, false>;
    using two_waiters = handshake_test<Fault, 2, false>;
    using cancel_race = handshake_test<Fault, 1, true>;
    using continuations = list_test<Fault>;
    return {
        {"one_waiter", [] { return simulate_scenario<one_waiter>("one_waiter", k_bound4); }},
        {"two_waiters", [] { return simulate_scenario<two_waiters>("two_waiters", k_bound3); }},
        {"cancel_race", [] { return simulate_scenario<cancel_race>("cancel_race", k_bound3); }},
        {"continuations",
         [] { return simulate_scenario<continuations>("continuations", k_bound3); }},
        {"continuations",
         [] { return simulate_scenario<continuations>("continuations", k_random); }},
    };
}

}  // namespace
}  // namespace weft::model

int main(int argc, char** argv) {
    using namespace weft::model;
    using weft::detail::future_fault;
    const std::vector<variant> variants{
        {"none", false, scenarios<future_fault::none>()},
        {"waiter_bit_by_store", true, scenarios<future_fault::waiter_bit_by_store>()},
        {"relaxed_publish", true, scenarios<future_fault::relaxed_publish>()},
        {"no_wake", true, scenarios<future_fault::no_wake>()},
        {"relaxed_close", true, scenarios<future_fault::relaxed_close>()},
    };
    return run_model_main("future_state", variants, argc, argv);
}
