// weft — how idle workers go to sleep without losing a wake-up.
//
// An event count (announce, re-check, commit) plus a count of searching workers, after
// Go's scheduler and libfork. The invariant: while some queue holds work published
// through notify_if_no_searcher() or notify_after_spawn(), at least one worker is awake
// and searching, or no worker is asleep.
//
//   worker about to sleep            producer of work
//   ---------------------            ----------------
//   end_search()    (searching--)    publish the work
//   park(has_work):                  notify_if_no_searcher():
//     waiters++ ; key = epoch          F1: seq_cst fence
//     F2: seq_cst fence                if searching == 0 and waiters > 0:
//     [H: heavy barrier]                 epoch++ ; wake one
//     if has_work(): cancel
//     sleep while epoch == key
//
// F1 and F2 form a Dekker pair: either F1 precedes F2 in the single total order of
// seq_cst operations, and has_work() sees the work; or F2 precedes F1, and the producer
// sees both the decrement of `searching` and the new waiter, so it bumps `epoch`, which
// the waiter's key (read before F2) cannot already include.
//
// Spawns (Spawn == spawn_wake::asymmetric_fence). A worker that pushes onto its own
// deque calls notify_after_spawn(): light barrier L, then the same check, with no fence
// on this hot path. L is a compiler barrier; its partner is H, which park() then runs
// after F2: membarrier(2), which has every other running thread execute a full fence at
// some instruction of its own. Wherever that fence lands in the spawner — before the
// push, between the push and the loads of L's check, or after them — either the
// spawner's loads see the announcement or the re-check sees the push (the argument in
// docs/design/scheduler.md, "Waking on spawn"). Where membarrier is unavailable, L is a
// seq_cst fence and H adds nothing: F2 and L are then the Dekker pair.
//
// Thread safety: all members are thread-safe.
// Performance: a producer that finds a searcher pays one fence and one load; a spawn pays
// two relaxed loads and a compiler barrier; park() of a spawn_wake::asymmetric_fence
// protocol pays one membarrier (about a microsecond, plus an interrupt per busy core).
#pragma once

#include <weft/detail/atomics.hpp>

#include <chrono>
#include <cstdint>
#include <utility>

namespace weft::detail {

/// Faults a model checker seeds into the protocol to prove it would catch them.
enum class sleep_fault {
    none,
    acq_rel_dekker,   // the two Dekker fences (and the epoch/waiter accesses) weakened to acq_rel
    no_recheck,       // park() commits to sleep without re-checking for work
    no_spawn_barrier,  // neither the heavy barrier in park() nor the light one in a spawn
    no_found_barrier  // end_search_found() re-checks without the heavy barrier
};

/// Whether fence-free spawns may wake sleepers, which makes every park() pay the heavy
/// barrier. The scheduler's workers spawn; the thread pool only uses the fenced notifies.
enum class spawn_wake {
    none,             // wake-ups come only from notify_if_no_searcher/notify_one/notify_all
    asymmetric_fence  // also from notify_after_spawn(); park() runs Atomics::heavy_barrier()
};

template <atomics_policy Atomics = std_atomics, spawn_wake Spawn = spawn_wake::none,
          sleep_fault Fault = sleep_fault::none>
class sleep_protocol {
    template <class U>
    using atomic = typename Atomics::template atomic<U>;

    static constexpr std::memory_order k_dekker =
        Fault == sleep_fault::acq_rel_dekker ? std::memory_order_acq_rel
                                             : std::memory_order_seq_cst;
    static constexpr std::memory_order k_dekker_load =
        Fault == sleep_fault::acq_rel_dekker ? std::memory_order_acquire
                                             : std::memory_order_seq_cst;
    static constexpr std::memory_order k_dekker_rmw = k_dekker;
    static constexpr bool k_asymmetric =
        Spawn == spawn_wake::asymmetric_fence && Fault != sleep_fault::no_spawn_barrier;

public:
    /// A worker starts looking for work.
    void begin_search() noexcept {
        // relaxed: an overestimate only suppresses a wake-up that the searcher's own
        // park() re-check makes unnecessary.
        m_searching.fetch_add(1, std::memory_order_relaxed);
    }

    /// A worker stops looking (found work, or is about to park). Returns true when it
    /// was the last searcher: then the caller wakes another if work remains visible.
    bool end_search() noexcept {
        // seq_cst: ordered before park()'s fence F2 and before the caller's re-check of
        // the injection count (the Dekker pair with notify_if_no_searcher()'s F1).
        return m_searching.fetch_sub(1, k_dekker_rmw) == 1;
    }

    /// Sleeps until notified, unless `has_work()` (called after the announcement) finds
    /// work; `on_sleep()` runs once just before the first block. The caller must not be
    /// counted as searching. Returns true if it slept.
    template <class HasWork, class OnSleep>
    bool park(HasWork&& has_work, OnSleep&& on_sleep) {
        std::uint32_t key = 0;
        if (!announce(has_work, key)) return false;
        on_sleep();
        // acquire: pairs with notify()'s epoch increment, so work published before it is
        // visible once we stop waiting.
        while (m_epoch.load(std::memory_order_acquire) == key) Atomics::wait(m_epoch, key);
        m_waiters.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as in announce()
        return true;
    }

    template <class HasWork>
    bool park(HasWork&& has_work) {
        return park(std::forward<HasWork>(has_work), [] {});
    }

    /// As park(), but sleeps at most `timeout`. A timed-out sleep is a wake-up without a
    /// notify: the caller must search again before treating itself as idle (a notify may
    /// have picked it just as the time ran out). Returns true if it slept.
    template <class HasWork, class OnSleep>
    bool park_for(HasWork&& has_work, OnSleep&& on_sleep, std::chrono::nanoseconds timeout) {
        std::uint32_t key = 0;
        if (!announce(has_work, key)) return false;
        on_sleep();
        if (m_epoch.load(std::memory_order_acquire) == key) {  // acquire: pairs with wake()'s epoch increment, as in park()
            Atomics::wait_for(m_epoch, key, timeout);
            // acquire: as in park(), for a return caused by a notify.
            static_cast<void>(m_epoch.load(std::memory_order_acquire));
        }
        m_waiters.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as in announce()
        return true;
    }

    /// Called after publishing work: wakes one sleeper unless somebody is searching.
    void notify_if_no_searcher() noexcept {
        Atomics::thread_fence(k_dekker);  // F1: pairs with F2 in park()
        // relaxed: ordered after the work's publication by F1.
        if (m_searching.load(std::memory_order_relaxed) != 0) return;
        wake(false);
    }

    /// Wakes one sleeper, if any (no searcher check).
    void notify_one() noexcept {
        Atomics::thread_fence(k_dekker);  // F1, as in notify_if_no_searcher()
        wake(false);
    }

    /// Wakes every sleeper (shutdown).
    void notify_all() noexcept {
        Atomics::thread_fence(k_dekker);  // F1, as in notify_if_no_searcher()
        wake(true);
    }

    /// Called by a worker right after pushing onto its own deque: wakes one sleeper
    /// unless somebody is searching, without a fence on the common path (see the header
    /// comment). Only for protocols whose park() pays the heavy barrier.
    void notify_after_spawn() noexcept requires(Spawn == spawn_wake::asymmetric_fence) {
        // L: pairs with the heavy barrier H in park(); keeps the push before the loads.
        if constexpr (Fault != sleep_fault::no_spawn_barrier) Atomics::light_barrier();
        // relaxed (both): ordered after the push by L, against a parker's announcement
        // by the fence H makes this thread execute.
        if (m_waiters.load(std::memory_order_relaxed) == 0) [[likely]]
            return;
        if (m_searching.load(std::memory_order_relaxed) != 0) return;
        notify_one();
    }

    /// A searcher found work. If it was the last searcher and somebody sleeps, wakes one
    /// when `has_work()` still sees work, so a burst fans out one worker at a time. With
    /// the asymmetric fence, the re-check runs after the heavy barrier: a spawner may have
    /// counted this worker as searching (and so woken nobody) while its push is not yet
    /// visible here.
    template <class HasWork>
    void end_search_found(HasWork&& has_work) noexcept {
        if (!end_search()) return;
        Atomics::thread_fence(k_dekker);  // F3: pairs with F2 in park() and, in the fallback, with L
        // relaxed: ordered after our decrement by F3; with no sleeper there is nobody to
        // wake, and a worker announcing itself now re-checks after its own heavy barrier.
        if (m_waiters.load(std::memory_order_relaxed) == 0) return;
        // H': pairs with L in notify_after_spawn(), as H in park() does.
        if constexpr (k_asymmetric && Fault != sleep_fault::no_found_barrier) Atomics::heavy_barrier();
        if (has_work()) notify_one();
    }

    /// A searcher leaves for good without parking (a spare worker retiring; it has called
    /// end_search()). Producers that counted it as searching woke nobody, so it re-checks
    /// as a parker would — F2, then the heavy barrier — and wakes one sleeper if
    /// `has_work()` sees work.
    template <class HasWork>
    void leave(HasWork&& has_work) noexcept {
        Atomics::thread_fence(k_dekker);  // F2': pairs with F1 of the fenced notifies
        // H'': pairs with L in notify_after_spawn(), as H in park() does.
        if constexpr (k_asymmetric) Atomics::heavy_barrier();
        if (has_work()) notify_one();
    }

    std::uint32_t searching() const noexcept {
        return m_searching.load(std::memory_order_relaxed);  // relaxed: statistics
    }
    std::uint32_t waiters() const noexcept {
        return m_waiters.load(std::memory_order_relaxed);  // relaxed: statistics
    }

private:
    /// The first half of park(): announces the caller as a waiter and re-checks for work.
    /// Returns false (announcement withdrawn) when has_work() found some; otherwise sets
    /// `key` to the epoch to sleep on.
    template <class HasWork>
    bool announce(HasWork& has_work, std::uint32_t& key) {
        // seq_cst: announces this waiter to notify()'s load of m_waiters.
        m_waiters.fetch_add(1, k_dekker_rmw);
        // seq_cst: this load precedes F2 in the total order, so it cannot read an
        // increment made after the producer's F1 (see the header comment).
        key = m_epoch.load(k_dekker_load);
        Atomics::thread_fence(k_dekker);  // F2: pairs with F1 in notify_if_no_searcher()
        // H: pairs with L in notify_after_spawn(); after the announcement, before the
        // re-check reads the spawner's deque.
        if constexpr (k_asymmetric) Atomics::heavy_barrier();
        if constexpr (Fault != sleep_fault::no_recheck) {
            if (has_work()) {
                // relaxed: a stale count only costs a producer one needless wake-up.
                m_waiters.fetch_sub(1, std::memory_order_relaxed);
                return false;
            }
        }
        return true;
    }

    void wake(bool all) noexcept {
        // seq_cst: read after F1 (the Dekker pair with park()'s announcement).
        if (m_waiters.load(k_dekker_load) == 0) return;
        // seq_cst: a waiter whose key load precedes F2 cannot have read this increment;
        // release (part of seq_cst): publishes the work to the waiter's acquire load.
        m_epoch.fetch_add(1, k_dekker_rmw);
        if (all)
            Atomics::wake_all(m_epoch);
        else
            Atomics::wake_one(m_epoch);
    }

    alignas(k_cache_line) atomic<std::uint32_t> m_searching{0};
    alignas(k_cache_line) atomic<std::uint32_t> m_waiters{0};
    alignas(k_cache_line) atomic<std::uint32_t> m_epoch{0};
};

}  // namespace weft::detail
