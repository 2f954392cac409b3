// weft — how idle workers go to sleep without losing a wake-up.
//
// An event count (announce, re-check, commit) plus a count of searching workers, after
// Go's scheduler and libfork. The invariant: while some queue holds work published
// through notify_if_no_searcher(), at least one worker is awake and searching, or no
// worker is asleep.
//
//   worker about to sleep            producer of work
//   ---------------------            ----------------
//   end_search()    (searching--)    publish the work
//   park(has_work):                  notify_if_no_searcher():
//     waiters++ ; key = epoch          F1: seq_cst fence
//     F2: seq_cst fence                if searching == 0 and waiters > 0:
//     if has_work(): cancel              epoch++ ; wake one
//     sleep while epoch == key
//
// F1 and F2 form a Dekker pair: either F1 precedes F2 in the single total order of
// seq_cst operations, and has_work() sees the work; or F2 precedes F1, and the producer
// sees both the decrement of `searching` and the new waiter, so it bumps `epoch`, which
// the waiter's key (read before F2) cannot already include.
//
// Thread safety: all members are thread-safe.
// Performance: a producer that finds a searcher pays one fence and one load; spawns on a
// worker use the fence-free hint `sleepers_hint()` (the owner runs its own work anyway).
#pragma once

#include <weft/detail/atomics.hpp>

#include <cstdint>
#include <utility>

namespace weft::detail {

/// Faults a model checker seeds into the protocol to prove it would catch them.
enum class sleep_fault {
    none,
    acq_rel_dekker,  // the two Dekker fences (and the epoch/waiter accesses) weakened to acq_rel
    no_recheck       // park() commits to sleep without re-checking for work
};

template <atomics_policy Atomics = std_atomics, sleep_fault Fault = sleep_fault::none>
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
        // seq_cst: announces this waiter to notify()'s load of m_waiters.
        m_waiters.fetch_add(1, k_dekker_rmw);
        // seq_cst: this load precedes F2 in the total order, so it cannot read an
        // increment made after the producer's F1 (see the header comment).
        const std::uint32_t key = m_epoch.load(k_dekker_load);
        Atomics::thread_fence(k_dekker);  // F2: pairs with F1 in notify_if_no_searcher()
        if constexpr (Fault != sleep_fault::no_recheck) {
            if (has_work()) {
                // relaxed: a stale count only costs a producer one needless wake-up.
                m_waiters.fetch_sub(1, std::memory_order_relaxed);
                return false;
            }
        }
        on_sleep();
        // acquire: pairs with notify()'s epoch increment, so work published before it is
        // visible once we stop waiting.
        while (m_epoch.load(std::memory_order_acquire) == key) Atomics::wait(m_epoch, key);
        m_waiters.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as above
        return true;
    }

    template <class HasWork>
    bool park(HasWork&& has_work) {
        return park(std::forward<HasWork>(has_work), [] {});
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

    /// Fence-free hint: are there sleepers and nobody searching? For spawns on a worker,
    /// whose owner will run the work itself if the hint is stale.
    bool sleepers_hint() const noexcept {
        // relaxed: a heuristic; correctness never depends on it.
        return m_waiters.load(std::memory_order_relaxed) != 0 &&
               m_searching.load(std::memory_order_relaxed) == 0;
    }

    std::uint32_t searching() const noexcept {
        return m_searching.load(std::memory_order_relaxed);  // relaxed: statistics
    }
    std::uint32_t waiters() const noexcept {
        return m_waiters.load(std::memory_order_relaxed);  // relaxed: statistics
    }

private:
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
