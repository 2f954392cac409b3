// weft model tests — Relacy model of weft::detail::sleep_protocol, the very template that
// ships, compiled against rl_atomics (whose wait/wake is a futex made of a Relacy mutex
// and condition variable, so a lost wake-up leaves a thread blocked for good and Relacy
// reports DEADLOCK).
//
// Around the protocol the model replays the injection path of lib/scheduler.cpp, one
// atomic per shared word the scheduler uses:
//   m_inject_state  bit 0 = stop, bits 1.. = tasks reserved or queued (as in scheduler)
//   m_queue         items in the injection queue (boost::lockfree::queue: a release
//                   push, an acquire pop that fails while the queue is empty)
//
//   producer (executor::post)               worker (worker_main + search_or_park)
//   -------------------------               -------------------------------------
//   inject_state += 2        (seq_cst)      loop: t = pop_injection()
//   queue push               (release)            else search_or_park():
//   notify_if_no_searcher()                         begin_search(); t = pop_injection()
//   ... then shutdown:                              found: if end_search() && visible work
//   inject_state |= stop     (seq_cst)                       notify_one(); run t
//   notify_all()                                    none:  end_search();
//                                                          park(visible work || stop);
//                                                          stop && no work -> exit
//
// pop_injection reads the reservation count (seq_cst), pops the queue, then subtracts
// its reservation (relaxed), as the scheduler does; a failed round calls spin_backoff,
// modelled as rl::yield. Simplifications: one search round instead of 64 spinning ones
// (rounds only delay parking), one item per pop_injection, and no deques (the deque's
// own model covers them; has_visible_work here is the injection count).
//
// Scenarios:
//   one_worker   one worker, a producer posting 2 items and never shutting down: the
//                worker leaves after its 2nd item, so each item's wake-up must arrive.
//   two_producers  one worker, two producers posting 1 item each, no shutdown: two
//                notifiers race on the epoch and the waiter count.
//   two_workers  two workers, a producer posting 2 items and then shutting down;
//                workers leave when stopped and out of work.
// after() checks: every item run exactly once, every count back to zero. A worker left
// asleep is a DEADLOCK (reported by Relacy when every thread is blocked or finished).
#include <weft/detail/sleep_protocol.hpp>

#include <cstdint>

#include "model_runner.hpp"

namespace weft::model {
namespace {

using weft::detail::sleep_fault;

constexpr std::uint32_t k_items = 2;
constexpr std::uint64_t k_stop_bit = 1;

template <sleep_fault Fault, unsigned Workers, unsigned Producers, bool Shutdown>
struct sleep_test
    : rl::test_suite<sleep_test<Fault, Workers, Producers, Shutdown>, Workers + Producers> {
    static_assert(k_items % Producers == 0);
    static_assert(!Shutdown || Producers == 1, "posting after shutdown is rejected");
    using protocol_t = weft::detail::sleep_protocol<rl_atomics, Fault>;

    protocol_t m_sleep;
    rl_atomic<std::uint64_t> m_inject_state{0};
    rl_atomic<std::uint32_t> m_queue{0};
    std::uint32_t m_run = 0;  // plain: the checker's own state

    void after() {
        RL_ASSERT(m_run == k_items);  // every item run exactly once
        RL_ASSERT(m_inject_state.debug_value() >> 1 == 0);
        RL_ASSERT(m_queue.debug_value() == 0);
        RL_ASSERT(m_sleep.waiters() == 0);
        RL_ASSERT(m_sleep.searching() == 0);
    }

    // As scheduler::injected_pending / stop_requested / has_visible_work.
    std::uint64_t injected_pending() const {
        return m_inject_state.load(std::memory_order_seq_cst) >> 1;
    }
    bool stop_requested() const {
        return (m_inject_state.load(std::memory_order_seq_cst) & k_stop_bit) != 0;
    }
    bool has_visible_work() const { return injected_pending() != 0; }

    // As scheduler::pop_injection, one item at a time.
    bool pop_injection() {
        if (injected_pending() == 0) return false;
        // acquire: pairs with the producer's release push (boost::lockfree::queue::pop).
        std::uint32_t n = m_queue.load(std::memory_order_acquire);
        for (;;) {
            if (n == 0) return false;  // reserved but not yet pushed: callers look again
            if (m_queue.compare_exchange_strong(n, n - 1, std::memory_order_acquire,
                                                std::memory_order_acquire))
                break;
        }
        m_inject_state.fetch_sub(2, std::memory_order_relaxed);
        return true;
    }

    // As scheduler::search_or_park; returns false when the worker should exit.
    bool search_or_park() {
        for (;;) {
            m_sleep.begin_search();
            if (pop_injection()) {
                if (m_sleep.end_search() && has_visible_work()) m_sleep.notify_one();
                return true;
            }
            rl::yield(1, $);  // spin_backoff
            m_sleep.end_search();
            m_sleep.park([this] { return has_visible_work() || stop_requested(); });
            if (stop_requested() && !has_visible_work()) return false;
        }
    }

    void run_item(std::uint32_t& mine) {
        ++mine;
        ++m_run;
        RL_ASSERT(m_run <= k_items);
    }

    void worker() {
        std::uint32_t mine = 0;
        for (;;) {
            if (!Shutdown && mine == k_items) return;  // alone, it knows the total
            if (!pop_injection() && !search_or_park()) return;
            run_item(mine);
        }
    }

    void producer() {
        for (std::uint32_t i = 0; i != k_items / Producers; ++i) {
            m_inject_state.fetch_add(2, std::memory_order_seq_cst);  // begin_inject
            m_queue.fetch_add(1, std::memory_order_release);         // queue push
            m_sleep.notify_if_no_searcher();                         // finish_inject
        }
        if constexpr (Shutdown) {
            m_inject_state.fetch_or(k_stop_bit, std::memory_order_seq_cst);
            m_sleep.notify_all();
        }
    }

    void thread(unsigned index) {
        if (index < Workers)
            worker();
        else
            producer();
    }
};

// Search budgets: a few seconds each on a 2-core box. The context-bound searches are
// exhaustive up to that many preemptions; the random one samples deeper interleavings.
constexpr search_config k_bound2{rl::sched_bound, 0, 2};
constexpr search_config k_bound3{rl::sched_bound, 0, 3};
constexpr search_config k_bound4{rl::sched_bound, 0, 4};
constexpr search_config k_random{rl::sched_random, 200000, 0};

template <sleep_fault Fault>
std::vector<scenario> scenarios() {
    using one_worker = sleep_test<Fault, 1, 1, false>;
    using two_producers = sleep_test<Fault, 1, 2, false>;
    using two_workers = sleep_test<Fault, 2, 1, true>;
    return {
        {"one_worker", [] { return simulate_scenario<one_worker>("one_worker", k_bound4); }},
        {"two_producers",
         [] { return simulate_scenario<two_producers>("two_producers", k_bound3); }},
        {"two_workers", [] { return simulate_scenario<two_workers>("two_workers", k_bound2); }},
        {"two_workers", [] { return simulate_scenario<two_workers>("two_workers", k_random); }},
    };
}

}  // namespace
}  // namespace weft::model

int main(int argc, char** argv) {
    using namespace weft::model;
    using weft::detail::sleep_fault;
    const std::vector<variant> variants{
        {"none", false, scenarios<sleep_fault::none>()},
        {"acq_rel_dekker", true, scenarios<sleep_fault::acq_rel_dekker>()},
        {"no_recheck", true, scenarios<sleep_fault::no_recheck>()},
    };
    return run_model_main("sleep_protocol", variants, argc, argv);
}
