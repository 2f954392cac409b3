// weft model tests — Relacy model of weft::detail::work_stealing_deque, the very
// template that ships, compiled against rl_atomics.
//
// One owner thread pushes and pops, two thieves steal. Values are task numbers 1..N;
// each has a payload in an rl::var that the owner writes before pushing it and that the
// taker reads and then overwrites, so a value taken without the happens-before edge the
// deque promises is a DATA RACE, and a value taken twice is caught either as a race or
// by the exactly-once count. after() checks that every pushed value was taken exactly
// once, by pop() or by a successful steal(), and take() that nothing else was.
//
// Scenarios (each from initial capacity 2):
//   last_element  pop the empty deque, push 1, 2, pop until empty and twice more: the
//                 owner races two thieves (two steals each) for the last element, and
//                 pops an empty deque (bottom - 1 = -1 must not underflow).
//   growth        push 1..3 (grows to 4), pop, push 4..6 (grows to 8), pop until empty,
//                 while two thieves steal twice each: thieves read old and new rings.
//   wraparound    push 1..4, pop until empty, while two thieves steal twice each: once
//                 a steal has advanced top, push 3 reuses slot 0 instead of growing.
#include <weft/detail/work_stealing_deque.hpp>

#include <array>
#include <cstdint>

#include "model_runner.hpp"

namespace weft::model {
namespace {

using weft::detail::deque_fault;
using weft::detail::steal_status;

constexpr int k_max_values = 8;
constexpr int k_thieves = 2;
constexpr int k_steals_per_thief = 2;

// The owner's script: push value v (v > 0), pop once (k_pop), or pop until empty.
constexpr int k_pop = 0;
constexpr int k_drain = -1;

constexpr std::array<int, 6> k_last_element{k_pop, 1, 2, k_drain, k_pop, k_pop};
constexpr std::array<int, 9> k_growth{1, 2, 3, k_pop, 4, 5, 6, k_drain, k_pop};
constexpr std::array<int, 6> k_wraparound{1, 2, 3, 4, k_drain, k_pop};

template <deque_fault Fault, const auto& Script>
struct deque_test : rl::test_suite<deque_test<Fault, Script>, 1 + k_thieves> {
    using deque_t = weft::detail::work_stealing_deque<int, rl_atomics, Fault>;

    deque_t* m_deque = nullptr;
    std::array<rl::var<int>, k_max_values + 1> m_payload;  // index = value
    std::array<int, k_max_values + 1> m_pushed{};          // plain: the checker's own state
    std::array<int, k_max_values + 1> m_taken{};

    static constexpr int payload_of(int v) { return 100 + v; }

    void before() {
        // Over-aligned, so this goes to the aligned operator new, which Relacy does not
        // track; the rings the deque allocates inside are tracked.
        m_deque = new deque_t{2};
        for (auto& p : m_payload) p($) = 0;
    }

    void after() {
        delete m_deque;  // frees every ring; Relacy reports a leak or double free
        for (int v = 1; v <= k_max_values; ++v) {
            RL_ASSERT(m_taken[v] == m_pushed[v]);  // exactly once; none lost
        }
    }

    void take(int v) {
        RL_ASSERT(v >= 1 && v <= k_max_values);  // never a value that was not pushed
        RL_ASSERT(m_pushed[v] == 1);
        RL_ASSERT(m_taken[v] == 0);  // never twice
        m_taken[v] += 1;
        // The payload written before push() must be visible (else DATA RACE) and intact.
        RL_ASSERT(m_payload[v]($) == payload_of(v));
        m_payload[v]($) = -1;
    }

    void owner() {
        for (const int op : Script) {
            if (op > 0) {
                m_payload[op]($) = payload_of(op);
                m_pushed[op] = 1;
                m_deque->push(op);
            } else {
                int v = 0;
                while (m_deque->pop(v)) {
                    take(v);
                    if (op == k_pop) break;
                }
            }
        }
    }

    void thief() {
        for (int i = 0; i != k_steals_per_thief; ++i) {
            const auto r = m_deque->steal();
            if (r.status == steal_status::success) take(r.value);
        }
    }

    void thread(unsigned index) {
        if (index == 0)
            owner();
        else
            thief();
    }
};

// Search budgets: a few seconds per scenario on a 2-core box. The context-bound searches
// are exhaustive up to that many preemptions (Relacy also enumerates which store each
// relaxed load reads); the random ones sample deeper interleavings.
constexpr search_config k_bound1{rl::sched_bound, 0, 1};
constexpr search_config k_bound2{rl::sched_bound, 0, 2};
constexpr search_config k_random{rl::sched_random, 200000, 0};

template <deque_fault Fault>
std::vector<scenario> scenarios() {
    using last_element = deque_test<Fault, k_last_element>;
    using growth = deque_test<Fault, k_growth>;
    using wraparound = deque_test<Fault, k_wraparound>;
    return {
        // Cheapest catches first: a mutant stops at its first failure.
        {"growth", [] { return simulate_scenario<growth>("growth", k_random); }},
        {"wraparound", [] { return simulate_scenario<wraparound>("wraparound", k_random); }},
        {"last_element", [] { return simulate_scenario<last_element>("last_element", k_random); }},
        {"wraparound", [] { return simulate_scenario<wraparound>("wraparound", k_bound1); }},
        {"last_element", [] { return simulate_scenario<last_element>("last_element", k_bound2); }},
    };
}

}  // namespace
}  // namespace weft::model

int main(int argc, char** argv) {
    using namespace weft::model;
    using weft::detail::deque_fault;
    const std::vector<variant> variants{
        {"none", false, scenarios<deque_fault::none>()},
        {"no_pop_fence", true, scenarios<deque_fault::no_pop_fence>()},
        {"no_steal_fence", true, scenarios<deque_fault::no_steal_fence>()},
        {"slot_read_after_cas", true, scenarios<deque_fault::slot_read_after_cas>()},
        {"push_into_old_ring", true, scenarios<deque_fault::push_into_old_ring>()},
        {"free_old_ring_at_once", true, scenarios<deque_fault::free_old_ring_at_once>()},
    };
    return run_model_main("deque", variants, argc, argv);
}
