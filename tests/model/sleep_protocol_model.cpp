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
//   ... then shutdown:                              found: end_search_found(visible
//   inject_state |= stop     (seq_cst)                       work); run t
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
//
// The spawn path (a protocol with spawn_wake::asymmetric_fence, as the scheduler's):
//
//   spawner (a worker inside a long task)   worker (search_or_park, stealing)
//   -------------------------------------   ---------------------------------
//   [interrupt point]                       loop: begin_search(); steal()
//   write the child's payload                 found: end_search_found(visible work);
//   deque.push(child)   (the shipping deque)         run it;
//   notify_after_spawn(): L, loads, notify           done = 1; notify_all(); exit
//   leave: goes on with its task for good     none:  end_search();
//          and never pops the child                  park(!deque.empty() || done)
//
// The deque is the shipping work_stealing_deque (push: relaxed slot store, release store
// of bottom; the re-check is empty_estimate(), as in scheduler::has_visible_work). The
// spawner never runs the child itself, so a lost wake-up leaves the worker asleep for
// good: DEADLOCK. The heavy barrier is modelled by its effect (rl_membarrier in
// rl_atomics.hpp): the spawner is the target, whose interrupt points are before the
// push, at L (between the push and the loads) and at leave (after the loads).
//   spawn           1 spawner, 1 worker (context bound 3, and 200 000 random schedules)
//   spawn_two_workers  1 spawner, 2 workers: two parkers, two heavy barriers, and a
//                   searcher that the spawner may see (context bound 2, random)
//   spawn_fallback  1 spawner, 1 worker, with rl_fallback_atomics (membarrier refused:
//                   L is a seq_cst fence, no heavy barrier) (context bound 4)
//
// A searcher that finds work (end_search_found(): the last searcher, with a sleeper,
// re-checks after the heavy barrier H' and wakes one) while a spawn counts it as
// searching:
//
//   spawner (in a long task)     worker W / worker Z (alike: worker_main + search_or_park)
//   ------------------------     --------------------------------------------------------
//   spawn(A): [interrupt point]  loop: begin_search(); steal()
//     push(A); notify_after_spawn  found: end_search_found(visible work); run it
//   spawn(C): the same                    A: the long task, until C has run
//   leave; the long task, until           C: done = 1; wake the long tasks; notify_all()
//     C has run                    none:  end_search(); park(visible work || done);
//                                         done and nothing visible -> exit
//
// The bug it shows: W steals A and ends its search as the last searcher while Z parks;
// the spawn of C still counts W as searching (so wakes nobody) and W's re-check misses
// C. A long task (here a futex wait on `done`) stands for a task that runs for a long
// time: with C queued, W and the spawner busy and Z asleep, every thread is blocked, so
// the lost parallelism shows as DEADLOCK. The spawner's interrupt points are before each
// push, at each L, and at leave.
//   spawn_found     1 spawner, 2 workers (500 000 random schedules)
//   spawn_found_fallback  the same with rl_fallback_atomics: H' does nothing and L is a
//                   seq_cst fence (context bound 2)
#include <weft/detail/sleep_protocol.hpp>
#include <weft/detail/work_stealing_deque.hpp>

#include <cstdint>
#include <type_traits>

#include "model_runner.hpp"

namespace weft::model {
namespace {

using weft::detail::sleep_fault;
using weft::detail::spawn_wake;
using weft::detail::steal_status;

constexpr std::uint32_t k_items = 2;
constexpr std::uint64_t k_stop_bit = 1;

template <sleep_fault Fault, unsigned Workers, unsigned Producers, bool Shutdown>
struct sleep_test
    : rl::test_suite<sleep_test<Fault, Workers, Producers, Shutdown>, Workers + Producers> {
    static_assert(k_items % Producers == 0);
    static_assert(!Shutdown || Producers == 1, "posting after shutdown is rejected");
    using protocol_t = weft::detail::sleep_protocol<rl_atomics, spawn_wake::none, Fault>;

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
                m_sleep.end_search_found([this] { return has_visible_work(); });
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

template <class Atomics, sleep_fault Fault, unsigned Workers>
struct spawn_test : rl::test_suite<spawn_test<Atomics, Fault, Workers>, 1 + Workers> {
    using protocol_t = weft::detail::sleep_protocol<Atomics, spawn_wake::asymmetric_fence, Fault>;
    using deque_t = weft::detail::work_stealing_deque<int, Atomics>;
    static constexpr unsigned k_spawner = 0;
    static constexpr int k_child = 1;
    static constexpr int k_payload = 42;

    protocol_t m_sleep;
    deque_t* m_deque = nullptr;
    rl_membarrier m_membarrier{k_spawner};
    rl_atomic<std::uint32_t> m_done{0};  // as the scheduler's stop bit: the child has run
    rl::var<int> m_payload;              // the child's data, written before the push
    std::uint32_t m_run = 0;             // plain: the checker's own state

    void before() {
        m_deque = new deque_t{2};  // over-aligned: untracked; its ring is tracked
        m_payload($) = 0;
        // Only where membarrier works: the fallback has no heavy barrier to model. Set on
        // every iteration: a failed one ends without after().
        g_membarrier = std::is_same_v<Atomics, rl_atomics> ? &m_membarrier : nullptr;
    }

    void after() {
        g_membarrier = nullptr;
        RL_ASSERT(m_run == 1);  // the child ran exactly once
        RL_ASSERT(m_deque->size_estimate() == 0);
        RL_ASSERT(m_sleep.waiters() == 0);
        RL_ASSERT(m_sleep.searching() == 0);
        delete m_deque;
    }

    // As scheduler::has_visible_work / stop_requested.
    bool has_visible_work() const { return !m_deque->empty_estimate(); }
    bool done() const {
        // seq_cst: as scheduler::stop_requested; read by park()'s re-check after F2.
        return m_done.load(std::memory_order_seq_cst) != 0;
    }

    void interrupt_point() {
        if (g_membarrier != nullptr) g_membarrier->interrupt_point();
    }

    void spawner() {
        interrupt_point();  // a heavy barrier's fence may land before the push
        m_payload($) = k_payload;
        m_deque->push(k_child);  // as scheduler::spawn
        m_sleep.notify_after_spawn();
        // The task goes on (it never pops the child); any later fence lands after this.
        if (g_membarrier != nullptr) g_membarrier->leave();
    }

    void run_child(int child) {
        RL_ASSERT(child == k_child);
        RL_ASSERT(m_payload($) == k_payload);  // published by push()'s release store
        ++m_run;
        RL_ASSERT(m_run == 1);
        // seq_cst: as scheduler::stop_and_join's stop bit, read by park()'s re-check.
        m_done.store(1, std::memory_order_seq_cst);
        m_sleep.notify_all();
    }

    // As scheduler::search_or_park with one search round of one steal_sweep.
    void worker() {
        for (;;) {
            m_sleep.begin_search();
            const auto r = m_deque->steal();
            if (r.status == steal_status::success) {
                m_sleep.end_search_found([this] { return has_visible_work(); });
                run_child(r.value);
                return;
            }
            rl::yield(1, $);  // spin_backoff
            m_sleep.end_search();
            m_sleep.park([this] { return has_visible_work() || done(); });
            if (done()) return;
        }
    }

    void thread(unsigned index) {
        if (index == k_spawner)
            spawner();
        else
            worker();
    }
};

// A searcher finds work while a spawner spawns (see the header comment). Both long tasks
// are a futex wait on `done`, which running C sets. It is not weft's blocking wait
// (begin_block() calls notify_if_no_searcher() when the worker's deque is not empty):
// it stands for computation that keeps the thread busy.
template <class Atomics, sleep_fault Fault>
struct found_test : rl::test_suite<found_test<Atomics, Fault>, 3> {
    using protocol_t = weft::detail::sleep_protocol<Atomics, spawn_wake::asymmetric_fence, Fault>;
    using deque_t = weft::detail::work_stealing_deque<int, Atomics>;
    static constexpr unsigned k_spawner = 0;
    static constexpr int k_task = 1;   // A: a long task, spawned first
    static constexpr int k_child = 2;  // C: the child that ends the long tasks

    protocol_t m_sleep;
    deque_t* m_deque = nullptr;
    rl_membarrier m_membarrier{k_spawner};
    rl_atomic<std::uint32_t> m_done{0};  // C has run: ends the long tasks, stops workers
    std::uint32_t m_run[3] = {};         // plain: the checker's own state, per item

    void before() {
        m_deque = new deque_t{2};  // over-aligned: untracked; its ring is tracked
        // As in spawn_test: only where membarrier works, set on every iteration.
        g_membarrier = std::is_same_v<Atomics, rl_atomics> ? &m_membarrier : nullptr;
    }

    void after() {
        g_membarrier = nullptr;
        RL_ASSERT(m_run[k_task] == 1 && m_run[k_child] == 1);  // each ran exactly once
        RL_ASSERT(m_deque->size_estimate() == 0);
        RL_ASSERT(m_sleep.waiters() == 0);
        RL_ASSERT(m_sleep.searching() == 0);
        delete m_deque;
    }

    bool has_visible_work() const { return !m_deque->empty_estimate(); }
    bool done() const {
        // seq_cst: as scheduler::stop_requested; read by park()'s re-check after F2.
        return m_done.load(std::memory_order_seq_cst) != 0;
    }

    // The rest of a long task: it lasts until C has run on another worker.
    void long_task() {
        // acquire: pairs with run()'s seq_cst store of m_done (the futex wait's check).
        while (m_done.load(std::memory_order_acquire) == 0) Atomics::wait(m_done, 0);
    }

    // As scheduler::spawn. A heavy barrier's fence may land before the push, at L, or
    // after the loads (the next spawn's interrupt point, or leave()).
    void spawn(int item) {
        if (g_membarrier != nullptr) g_membarrier->interrupt_point();
        m_deque->push(item);
        m_sleep.notify_after_spawn();
    }

    void spawner() {
        spawn(k_task);
        spawn(k_child);
        // The task goes on; any later fence lands after the spawns.
        if (g_membarrier != nullptr) g_membarrier->leave();
        long_task();
    }

    void run(int item) {
        RL_ASSERT(item == k_task || item == k_child);
        ++m_run[item];
        RL_ASSERT(m_run[item] == 1);
        if (item == k_task) {
            long_task();
            return;
        }
        // seq_cst: as scheduler::stop_and_join's stop bit, read by park()'s re-check.
        m_done.store(1, std::memory_order_seq_cst);
        Atomics::wake_all(m_done);  // the long tasks
        m_sleep.notify_all();       // parked workers, which then leave
    }

    // As scheduler::search_or_park with one search round of one steal; false: leave.
    bool search_or_park(int& item) {
        for (;;) {
            m_sleep.begin_search();
            const auto r = m_deque->steal();
            if (r.status == steal_status::success) {
                m_sleep.end_search_found([this] { return has_visible_work(); });
                item = r.value;
                return true;
            }
            rl::yield(1, $);  // spin_backoff
            m_sleep.end_search();
            m_sleep.park([this] { return has_visible_work() || done(); });
            if (done() && !has_visible_work()) return false;
        }
    }

    // As scheduler::worker_main.
    void worker() {
        int item = 0;
        while (search_or_park(item)) run(item);
    }

    void thread(unsigned index) {
        if (index == k_spawner)
            spawner();
        else
            worker();
    }
};

// Search budgets: a few seconds each on a 2-core box. The context-bound searches are
// exhaustive up to that many preemptions; the random one samples deeper interleavings.
constexpr search_config k_bound2{rl::sched_bound, 0, 2};
constexpr search_config k_bound3{rl::sched_bound, 0, 3};
constexpr search_config k_bound4{rl::sched_bound, 0, 4};
constexpr search_config k_random{rl::sched_random, 200000, 0};
constexpr search_config k_random_500k{rl::sched_random, 500000, 0};

template <sleep_fault Fault>
std::vector<scenario> scenarios() {
    using one_worker = sleep_test<Fault, 1, 1, false>;
    using two_producers = sleep_test<Fault, 1, 2, false>;
    using two_workers = sleep_test<Fault, 2, 1, true>;
    using spawn = spawn_test<rl_atomics, Fault, 1>;
    using spawn_two_workers = spawn_test<rl_atomics, Fault, 2>;
    using spawn_fallback = spawn_test<rl_fallback_atomics, Fault, 1>;
    using spawn_found = found_test<rl_atomics, Fault>;
    using spawn_found_fallback = found_test<rl_fallback_atomics, Fault>;
    return {
        {"one_worker", [] { return simulate_scenario<one_worker>("one_worker", k_bound4); }},
        {"two_producers",
         [] { return simulate_scenario<two_producers>("two_producers", k_bound3); }},
        {"two_workers", [] { return simulate_scenario<two_workers>("two_workers", k_bound2); }},
        {"two_workers", [] { return simulate_scenario<two_workers>("two_workers", k_random); }},
        {"spawn", [] { return simulate_scenario<spawn>("spawn", k_bound3); }},
        {"spawn", [] { return simulate_scenario<spawn>("spawn", k_random); }},
        {"spawn_two_workers",
         [] { return simulate_scenario<spawn_two_workers>("spawn_two_workers", k_bound2); }},
        {"spawn_two_workers",
         [] { return simulate_scenario<spawn_two_workers>("spawn_two_workers", k_random); }},
        {"spawn_fallback",
         [] { return simulate_scenario<spawn_fallback>("spawn_fallback", k_bound4); }},
        {"spawn_found",
         [] { return simulate_scenario<spawn_found>("spawn_found", k_random_500k); }},
        {"spawn_found_fallback",
         [] { return simulate_scenario<spawn_found_fallback>("spawn_found_fallback", k_bound2); }},
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
        {"no_spawn_barrier", true, scenarios<sleep_fault::no_spawn_barrier>()},
        {"no_found_barrier", true, scenarios<sleep_fault::no_found_barrier>()},
    };
    return run_model_main("sleep_protocol", variants, argc, argv);
}
