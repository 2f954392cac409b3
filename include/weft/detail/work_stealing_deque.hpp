// weft — the Chase–Lev work-stealing deque.
//
// Algorithm: D. Chase and Y. Lev, "Dynamic Circular Work-Stealing Deque", SPAA 2005.
// Memory orders: N. M. Lê, A. Pop, A. Cohen, F. Zappa Nardelli, "Correct and Efficient
// Work-Stealing for Weak Memory Models", PPoPP 2013 — with one change: push() publishes
// its slot with a release store of `bottom` instead of a release fence followed by a
// relaxed store (same guarantee, and visible to ThreadSanitizer, which ignores fences).
//
// Thread safety: push() and pop() are owner-only (the one thread that owns the deque);
// steal() and size_estimate() are thread-safe and may be called by any number of thieves.
//
// Performance: push is a relaxed slot store plus a release store of `bottom`; pop is one
// seq_cst fence; a thief pays one seq_cst fence and one CAS. `top` and `bottom` sit on
// separate cache lines so that thieves hammering `top` do not slow the owner's `bottom`.
//
// Memory: the ring grows by doubling. A replaced ring is retired, not freed: a thief that
// loaded the old ring pointer may still read a slot from it. Retired rings are freed when
// the deque dies; their total is less than the live ring, so memory stays under 2x peak.
//
// Known bugs of published implementations that this one avoids, each with a regression
// test or a seeded mutant in tests/model/: writing into the pre-growth ring after a
// resize; reading the slot after a successful CAS (another thread may already have
// overwritten it); freeing the old ring while a thief reads it; unsigned underflow of
// `bottom - 1` on an empty pop (indices are signed).
#pragma once

#include <weft/detail/atomics.hpp>

#include <cstdint>
#include <type_traits>
#include <utility>

namespace weft::detail {

/// Faults a model checker seeds into the deque to prove it would catch them.
/// The library always uses `none`.
enum class deque_fault {
    none,
    no_pop_fence,          // pop() without the seq_cst fence between bottom and top
    no_steal_fence,        // steal() without the seq_cst fence between top and bottom
    slot_read_after_cas,   // steal() reads the slot after winning the CAS
    push_into_old_ring,    // push() writes into the ring it saw before growing
    free_old_ring_at_once  // grow() frees the old ring instead of retiring it
};

/// What steal() found.
enum class steal_status { empty, success, retry };

template <class T>
struct steal_result {
    steal_status status = steal_status::empty;
    T value{};
};

/// Chase–Lev deque of trivially copyable values (task pointers in weft).
template <class T, atomics_policy Atomics = std_atomics, deque_fault Fault = deque_fault::none>
    requires std::is_trivially_copyable_v<T>
class work_stealing_deque {
    template <class U>
    using atomic = typename Atomics::template atomic<U>;

    struct ring {
        std::int64_t capacity;
        atomic<T>* slots;
        ring* retired_next = nullptr;  // owner-only: chain of rings retired before this one

        explicit ring(std::int64_t cap)
            : capacity{cap},
              slots{Atomics::template new_array<atomic<T>>(static_cast<std::size_t>(cap))} {}
        ~ring() { Atomics::delete_array(slots, static_cast<std::size_t>(capacity)); }
        ring(const ring&) = delete;
        ring& operator=(const ring&) = delete;

        // Slots are atomics accessed relaxed: ordering comes from `top`/`bottom`.
        void put(std::int64_t i, T v) noexcept {
            // relaxed: published by push()'s release store of m_bottom.
            slots[i & (capacity - 1)].store(v, std::memory_order_relaxed);
        }
        T get(std::int64_t i) const noexcept {
            // relaxed: ordered after the acquire load of m_bottom (steal) or by
            // program order (pop, the writer itself).
            return slots[i & (capacity - 1)].load(std::memory_order_relaxed);
        }
    };

public:
    /// Creates an empty deque; `initial_capacity` is rounded up to a power of two >= 2.
    explicit work_stealing_deque(std::int64_t initial_capacity = 256) {
        std::int64_t cap = 2;
        while (cap < initial_capacity) cap *= 2;
        m_ring.store(new ring{cap}, std::memory_order_relaxed);  // relaxed: not yet shared
    }

    ~work_stealing_deque() {
        ring* r = m_ring.load(std::memory_order_relaxed);  // relaxed: no thief outlives us
        while (r != nullptr) {
            ring* next = r->retired_next;
            delete r;
            r = next;
        }
    }

    work_stealing_deque(const work_stealing_deque&) = delete;
    work_stealing_deque& operator=(const work_stealing_deque&) = delete;

    /// Pushes onto the bottom. Owner-only.
    void push(T value) {
        // relaxed: only the owner writes m_bottom.
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed);
        // acquire: pairs with the CAS on m_top in steal()/pop(), so a slot freed by a
        // thief is not overwritten before the thief has read it.
        const std::int64_t t = m_top.load(std::memory_order_acquire);
        // relaxed: only the owner stores m_ring.
        ring* r = m_ring.load(std::memory_order_relaxed);
        if (b - t > r->capacity - 1) {
            ring* grown = grow(r, t, b);
            if constexpr (Fault != deque_fault::push_into_old_ring) r = grown;
        }
        r->put(b, value);
        // release: publishes slot b to steal()'s acquire load of m_bottom.
        m_bottom.store(b + 1, std::memory_order_release);
    }

    /// Pops from the bottom (LIFO). Owner-only. Returns false when empty.
    bool pop(T& out) noexcept {
        // relaxed: only the owner writes m_bottom.
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed) - 1;
        ring* r = m_ring.load(std::memory_order_relaxed);  // relaxed: owner-only store
        // relaxed: ordered before the load of m_top by the seq_cst fence below.
        m_bottom.store(b, std::memory_order_relaxed);
        // seq_cst: the Dekker pair with steal()'s fence — either the thief sees the
        // reserved bottom, or this load of m_top sees the thief's increment.
        if constexpr (Fault != deque_fault::no_pop_fence)
            Atomics::thread_fence(std::memory_order_seq_cst);
        // relaxed: ordered by the fence above.
        std::int64_t t = m_top.load(std::memory_order_relaxed);
        if (t > b) {  // empty: undo the reservation (signed, so b = -1 is fine)
            // relaxed: a thief reading the old or new value both see an empty deque.
            m_bottom.store(b + 1, std::memory_order_relaxed);
            return false;
        }
        out = r->get(b);
        if (t == b) {
            // Last element: race the thieves for it through m_top.
            // seq_cst: totally ordered with steal()'s CAS on m_top; relaxed on failure:
            // a failed CAS only tells us a thief won.
            const bool won = m_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                                           std::memory_order_relaxed);
            // relaxed: the deque is now empty with top == bottom == b + 1.
            m_bottom.store(b + 1, std::memory_order_relaxed);
            return won;
        }
        return true;
    }

    /// Steals from the top (FIFO). Thread-safe.
    steal_result<T> steal() noexcept {
        // acquire: pairs with the CAS on m_top by other thieves and pop(), so that the
        // slot read below is not one they already took.
        std::int64_t t = m_top.load(std::memory_order_acquire);
        // seq_cst: the Dekker pair with pop()'s fence (see there).
        if constexpr (Fault != deque_fault::no_steal_fence)
            Atomics::thread_fence(std::memory_order_seq_cst);
        // acquire: pairs with push()'s release store of m_bottom, making slot t visible.
        const std::int64_t b = m_bottom.load(std::memory_order_acquire);
        if (t >= b) return {};
        // acquire: pairs with grow()'s release store of m_ring, making the copied slots
        // of a new ring visible (Lê et al. use consume here).
        ring* r = m_ring.load(std::memory_order_acquire);
        T value{};
        if constexpr (Fault != deque_fault::slot_read_after_cas) value = r->get(t);
        // seq_cst: totally ordered with pop()'s CAS for the last element; relaxed on
        // failure: losing only means retry.
        if (!m_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                           std::memory_order_relaxed))
            return {steal_status::retry, T{}};
        if constexpr (Fault == deque_fault::slot_read_after_cas) value = r->get(t);
        return {steal_status::success, value};
    }

    /// Number of elements at some recent moment; thread-safe, exact only for the owner
    /// when no thief is active.
    std::int64_t size_estimate() const noexcept {
        // acquire on both: a watcher that sees work must also see the published slot.
        const std::int64_t b = m_bottom.load(std::memory_order_acquire);
        const std::int64_t t = m_top.load(std::memory_order_acquire);
        return b > t ? b - t : 0;
    }

    bool empty_estimate() const noexcept { return size_estimate() == 0; }

    /// Number of elements as the owner sees it (may overcount by what thieves are taking
    /// right now). Owner-only; no fence.
    std::int64_t owner_size() const noexcept {
        const std::int64_t b = m_bottom.load(std::memory_order_relaxed);  // relaxed: owner's own
        return b - m_top.load(std::memory_order_relaxed);  // relaxed: stale only overcounts
    }

    /// Capacity of the live ring. Owner-only (tests).
    std::int64_t capacity() const noexcept {
        return m_ring.load(std::memory_order_relaxed)->capacity;  // relaxed: owner-only
    }

private:
    ring* grow(ring* old, std::int64_t t, std::int64_t b) {
        auto* bigger = new ring{old->capacity * 2};
        for (std::int64_t i = t; i < b; ++i) bigger->put(i, old->get(i));
        if constexpr (Fault == deque_fault::free_old_ring_at_once) {
            // release: as below.
            m_ring.store(bigger, std::memory_order_release);
            bigger->retired_next = old->retired_next;
            old->retired_next = nullptr;
            delete old;
        } else {
            bigger->retired_next = old;  // kept until the deque dies: a thief may read it
            // release: publishes the copied slots to steal()'s acquire load of m_ring.
            m_ring.store(bigger, std::memory_order_release);
        }
        return bigger;
    }

    // Shared block 1: written by thieves (CAS) and by pop() for the last element.
    alignas(k_cache_line) atomic<std::int64_t> m_top{0};
    // Shared block 2: written by the owner only, read by thieves.
    alignas(k_cache_line) atomic<std::int64_t> m_bottom{0};
    // Written by the owner only (grow), read by thieves.
    atomic<ring*> m_ring{nullptr};
};

}  // namespace weft::detail
