// weft model tests — `rl_atomics`, the atomics policy that compiles the shipping deque
// and sleep protocol against Relacy (Vyukov's relaxed-memory model checker).
//
// Include order matters: <relacy/relacy.hpp> #defines `new`, `delete`, `malloc`,
// `assert` and the `memory_order_*` names as macros, so every standard and weft header
// must be included *before* this one. After including Relacy this header removes the
// `new`/`delete`/`memory_order_*` macros again, so that model code reads like ordinary
// C++ (`new` still goes through Relacy's tracked global operator new while a simulation
// runs). Do not use relacy_std.hpp: it clashes with libstdc++ 12.
//
// What the policy models:
//   * `atomic<T>`: a thin wrapper around `rl::atomic<T>` with std::atomic's member
//     functions; each call passes the *caller's* file and line to Relacy, so a
//     history names the line of the deque or sleep protocol, not this file.
//     Default construction value-initialises, as std::atomic does since C++20.
//     A CAS whose failure order is stronger than its success order (legal since C++17,
//     rejected by Relacy) fails relaxed and re-reads with the failure order.
//   * `thread_fence`: `rl::atomic_thread_fence`.
//   * `new_array`/`delete_array`: Relacy's tracked allocator plus placement new. A
//     destroyed rl::atomic poisons its signature, so a thief that reads a slot of a freed
//     ring fails with ACCESS TO FREED MEMORY instead of crashing the process.
//   * `wait`/`wake_one`/`wake_all`: a futex. Each `atomic<std::uint32_t>` carries a
//     Relacy mutex and condition variable; wait = lock, while (word == expected)
//     cv.wait, unlock; wake = lock, notify, unlock. The mutex gives the check-then-block
//     atomicity of the kernel's hash-bucket lock and nothing more (no extra seq_cst
//     fence), and Relacy's condition variable may wake spuriously, as futex_wait may. A
//     wake-up that is lost leaves the waiter blocked for good: Relacy reports DEADLOCK
//     once every thread is blocked or finished. `wait_for` is the same with Relacy's
//     timed wait, which Relacy may let time out at any point.
//   * `heavy_barrier` / `light_barrier`: membarrier(2) by its effect (`rl_membarrier`
//     below). The light barrier is a compiler barrier, so it has no memory effect of its
//     own; it marks one of the spots where a heavy barrier's fence may land.
//     `rl_fallback_atomics` is the policy where membarrier is unavailable: the light
//     barrier is a seq_cst fence and the heavy one does nothing.
#pragma once

#include <weft/detail/atomics.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include <relacy/relacy.hpp>

#undef new
#undef delete
#undef memory_order_relaxed
#undef memory_order_consume
#undef memory_order_acquire
#undef memory_order_release
#undef memory_order_acq_rel
#undef memory_order_seq_cst

namespace weft::model {

/// std::memory_order -> Relacy's memory_order.
constexpr rl::memory_order to_rl(std::memory_order order) noexcept {
    switch (order) {
        case std::memory_order::relaxed: return rl::mo_relaxed;
        case std::memory_order::consume: return rl::mo_consume;
        case std::memory_order::acquire: return rl::mo_acquire;
        case std::memory_order::release: return rl::mo_release;
        case std::memory_order::acq_rel: return rl::mo_acq_rel;
        case std::memory_order::seq_cst: return rl::mo_seq_cst;
    }
    return rl::mo_seq_cst;
}

/// Where a policy member was called from. std::source_location would do, but clang 14
/// with libstdc++ 12 lacks it; these builtins, as default arguments, name the caller on
/// both compilers.
struct call_site {
    const char* m_file;
    const char* m_function;
    unsigned m_line;

    static constexpr call_site current(const char* file = __builtin_FILE(),
                                       const char* function = __builtin_FUNCTION(),
                                       unsigned line = __builtin_LINE()) noexcept {
        return {file, function, line};
    }
};

/// Relacy debug info naming the caller's line.
inline rl::debug_info here(const call_site& at) noexcept {
    return rl::debug_info(at.m_function, at.m_file, at.m_line);
}

/// The futex of one 32-bit word: a mutex and a condition variable.
struct rl_futex_state {
    rl::mutex m_mutex;
    rl::condition_variable m_cv;
};
struct rl_no_futex_state {};

/// std::atomic<T>'s interface over rl::atomic<T>. Thread-safe (inside a simulation).
template <class T>
class rl_atomic
    : public std::conditional_t<std::is_same_v<T, std::uint32_t>, rl_futex_state,
                                rl_no_futex_state> {
    using loc = call_site;

public:
    rl_atomic(const loc& l = loc::current()) { m_value.store(T{}, rl::mo_relaxed, here(l)); }
    rl_atomic(T v, const loc& l = loc::current()) {  // NOLINT: mirrors std::atomic
        m_value.store(v, rl::mo_relaxed, here(l));
    }
    rl_atomic(const rl_atomic&) = delete;
    rl_atomic& operator=(const rl_atomic&) = delete;

    T load(std::memory_order o = std::memory_order_seq_cst,
           const loc& l = loc::current()) const {
        return m_value.load(to_rl(o), here(l));
    }
    void store(T v, std::memory_order o = std::memory_order_seq_cst,
               const loc& l = loc::current()) {
        m_value.store(v, to_rl(o), here(l));
    }
    T exchange(T v, std::memory_order o = std::memory_order_seq_cst,
               const loc& l = loc::current()) {
        return m_value.exchange(v, to_rl(o), here(l));
    }
    bool compare_exchange_strong(T& expected, T desired, std::memory_order success,
                                 std::memory_order failure, const loc& l = loc::current()) {
        return cas<false>(expected, desired, success, failure, l);
    }
    bool compare_exchange_strong(T& expected, T desired,
                                 std::memory_order o = std::memory_order_seq_cst,
                                 const loc& l = loc::current()) {
        return m_value.compare_exchange_strong(expected, desired, to_rl(o), here(l));
    }
    /// May fail spuriously: Relacy explores those failures.
    bool compare_exchange_weak(T& expected, T desired, std::memory_order success,
                               std::memory_order failure, const loc& l = loc::current()) {
        return cas<true>(expected, desired, success, failure, l);
    }
    bool compare_exchange_weak(T& expected, T desired,
                               std::memory_order o = std::memory_order_seq_cst,
                               const loc& l = loc::current()) {
        return m_value.compare_exchange_weak(expected, desired, to_rl(o), here(l));
    }
    template <class U = T>
        requires std::is_integral_v<U>
    T fetch_add(U v, std::memory_order o = std::memory_order_seq_cst,
                const loc& l = loc::current()) {
        return m_value.fetch_add(v, to_rl(o), here(l));
    }
    template <class U = T>
        requires std::is_integral_v<U>
    T fetch_sub(U v, std::memory_order o = std::memory_order_seq_cst,
                const loc& l = loc::current()) {
        return m_value.fetch_sub(v, to_rl(o), here(l));
    }

    template <class U = T>
        requires std::is_integral_v<U>
    T fetch_or(U v, std::memory_order o = std::memory_order_seq_cst,
               const loc& l = loc::current()) {
        return m_value.fetch_or(v, to_rl(o), here(l));
    }
    template <class U = T>
        requires std::is_integral_v<U>
    T fetch_and(U v, std::memory_order o = std::memory_order_seq_cst,
                const loc& l = loc::current()) {
        return m_value.fetch_and(v, to_rl(o), here(l));
    }

    /// The value in modification order, for invariant()/after() only (no memory effect).
    T debug_value() const { return m_value.debug_value(); }

private:
    /// Whether Relacy accepts `failure` with `success`: it keeps C++11's rule that the
    /// failure order is no stronger than the success order; C++17 dropped it.
    static constexpr bool rl_accepts(rl::memory_order success, rl::memory_order failure) {
        switch (success) {
            case rl::mo_relaxed:
            case rl::mo_release: return failure == rl::mo_relaxed;
            case rl::mo_consume: return failure == rl::mo_relaxed || failure == rl::mo_consume;
            case rl::mo_acquire:
            case rl::mo_acq_rel: return failure != rl::mo_seq_cst;
            case rl::mo_seq_cst: return true;
        }
        return true;
    }

    /// A CAS with separate orders. For a pair Relacy rejects (e.g. the continuation
    /// list's release-on-success, acquire-on-failure push) the CAS fails relaxed and then
    /// re-reads the word with the failure order. A failed CAS reads the latest value, so
    /// the re-read returns that value or a newer one (coherence): the same execution as
    /// a CAS that failed at the re-read, no stronger than the real one. A weak CAS
    /// reports the re-read value as a (possibly spurious) failure; a strong one retries
    /// when it equals `expected`.
    template <bool Weak>
    bool cas(T& expected, T desired, std::memory_order success, std::memory_order failure,
             const loc& l) {
        const rl::debug_info info = here(l);
        const rl::memory_order s = to_rl(success);
        const rl::memory_order f = to_rl(failure);
        if (rl_accepts(s, f))
            return Weak ? m_value.compare_exchange_weak(expected, desired, s, info, f, info)
                        : m_value.compare_exchange_strong(expected, desired, s, info, f, info);
        for (;;) {
            T seen = expected;
            if (Weak ? m_value.compare_exchange_weak(seen, desired, s, info, rl::mo_relaxed, info)
                     : m_value.compare_exchange_strong(seen, desired, s, info, rl::mo_relaxed,
                                                       info))
                return true;
            const T now = m_value.load(f, info);
            if (Weak || !(now == expected)) {
                expected = now;
                return false;
            }
        }
    }

    rl::atomic<T> m_value;
};

/// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) by its effect on one other thread, the
/// *target* (the spawner of a scenario). The kernel interrupts the target wherever it is
/// and has it execute a full fence before the call returns. Here the caller's
/// heavy_barrier() posts a request and waits (yielding) until the target has served it,
/// by executing a seq_cst fence at its next *interrupt point*, or has left. Relacy
/// orders seq_cst fences by the schedule, so the target's fence falls after the
/// caller's leading fence and before its trailing one: the caller's stores before the
/// call are visible to the target's loads after the interrupt point, and the target's
/// stores before that point to the caller's loads after the call. Those are both halves
/// of the real effect and nothing more: the request and acknowledgement words are
/// relaxed and only constrain the schedule.
///
/// The interrupt points are the spots that matter to the caller: where the target calls
/// interrupt_point() and its light barriers (a real interrupt lands at any instruction,
/// but between two such spots the target does nothing the caller reads). leave() stands
/// for the target going on with other work for good: it fences once, so that every later
/// interrupt falls after all it did, and from then on requests need not wait for it.
/// One target per scenario; a scenario installs it in g_membarrier for its iteration.
class rl_membarrier {
public:
    explicit rl_membarrier(unsigned target) : m_target{target} {}

    /// The target: a spot where a pending interrupt lands. Other threads: no effect.
    void interrupt_point(const call_site& l = call_site::current()) {
        if (rl::thread_index() != m_target) return;
        // relaxed: steers the schedule only; the fence below does the ordering.
        const std::uint64_t requested = m_requested.load(std::memory_order_relaxed, l);
        if (requested == m_served_by_target) return;
        rl::atomic_thread_fence(rl::mo_seq_cst, here(l));  // the interrupt's full fence
        m_served_by_target = requested;
        m_served.store(requested, std::memory_order_relaxed, l);  // relaxed: as above
    }

    /// The target: goes on with other work; every later interrupt lands after this.
    void leave(const call_site& l = call_site::current()) {
        rl::atomic_thread_fence(rl::mo_seq_cst, here(l));  // the fence of any later interrupt
        m_left.store(true, std::memory_order_relaxed, l);  // relaxed: as above
    }

    /// The caller's wait for its interrupt of the target, between heavy_barrier()'s fences.
    void expedite(const call_site& l = call_site::current()) {
        if (rl::thread_index() == m_target) return;  // the call does not interrupt itself
        // relaxed (all three): as above.
        const std::uint64_t mine = m_requested.fetch_add(1, std::memory_order_relaxed, l) + 1;
        while (m_served.load(std::memory_order_relaxed, l) < mine &&
               !m_left.load(std::memory_order_relaxed, l))
            rl::yield(1, here(l));
    }

private:
    unsigned m_target;
    std::uint64_t m_served_by_target = 0;  // plain: the target's own copy
    rl_atomic<std::uint64_t> m_requested{0};
    rl_atomic<std::uint64_t> m_served{0};
    rl_atomic<bool> m_left{false};
};

/// The membarrier model of the running scenario, or null (no thread is a target).
inline rl_membarrier* g_membarrier = nullptr;

/// The Relacy atomics policy. Stateless.
struct rl_atomics {
    template <class T>
    using atomic = rl_atomic<T>;

    static void thread_fence(std::memory_order order, const call_site& l = call_site::current()) {
        rl::atomic_thread_fence(to_rl(order), here(l));
    }

    /// membarrier: the system call's entry and return are full fences; in between, the
    /// target (if any) fences at one of its interrupt points.
    static void heavy_barrier(const call_site& l = call_site::current()) {
        rl::atomic_thread_fence(rl::mo_seq_cst, here(l));
        if (g_membarrier != nullptr) g_membarrier->expedite(l);
        rl::atomic_thread_fence(rl::mo_seq_cst, here(l));
    }
    /// A compiler barrier: no memory effect, but an interrupt point of the target.
    static void light_barrier(const call_site& l = call_site::current()) {
        if (g_membarrier != nullptr) g_membarrier->interrupt_point(l);
    }

    template <class T>
    static T* new_array(std::size_t n, const call_site& l = call_site::current()) {
        void* raw = rl::rl_malloc(n * sizeof(T), here(l));
        T* p = static_cast<T*>(raw);
        for (std::size_t i = 0; i != n; ++i) ::new (static_cast<void*>(p + i)) T();
        return p;
    }
    template <class T>
    static void delete_array(T* p, std::size_t n,
                             const call_site& l = call_site::current()) {
        if (p == nullptr) return;
        for (std::size_t i = 0; i != n; ++i) p[i].~T();
        rl::rl_free(p, here(l));
    }

    static void wait(atomic<std::uint32_t>& word, std::uint32_t expected,
                     const call_site& l = call_site::current()) {
        const rl::debug_info info = here(l);
        word.m_mutex.lock(info);
        // relaxed: the mutex orders this load after a waker's increment-then-lock.
        while (word.load(std::memory_order_relaxed, l) == expected)
            word.m_cv.wait(word.m_mutex, info);
        word.m_mutex.unlock(info);
    }
    /// As wait(); Relacy decides when (if ever) the timeout expires.
    static void wait_for(atomic<std::uint32_t>& word, std::uint32_t expected,
                         std::chrono::nanoseconds timeout,
                         const call_site& l = call_site::current()) {
        const rl::debug_info info = here(l);
        word.m_mutex.lock(info);
        // relaxed: as in wait().
        while (word.load(std::memory_order_relaxed, l) == expected)
            if (!word.m_cv.wait_for(word.m_mutex, timeout, info)) break;  // timed out
        word.m_mutex.unlock(info);
    }
    static void wake_one(atomic<std::uint32_t>& word,
                         const call_site& l = call_site::current()) {
        const rl::debug_info info = here(l);
        word.m_mutex.lock(info);
        word.m_cv.notify_one(info);
        word.m_mutex.unlock(info);
    }
    static void wake_all(atomic<std::uint32_t>& word,
                         const call_site& l = call_site::current()) {
        const rl::debug_info info = here(l);
        word.m_mutex.lock(info);
        word.m_cv.notify_all(info);
        word.m_mutex.unlock(info);
    }
};

static_assert(weft::detail::atomics_policy<rl_atomics>);

/// The policy where membarrier is unavailable: the light barrier is a seq_cst fence and
/// the heavy barrier adds nothing to the fence before it. Stateless.
struct rl_fallback_atomics : rl_atomics {
    static void heavy_barrier(const call_site& /*l*/ = call_site::current()) {}
    static void light_barrier(const call_site& l = call_site::current()) {
        rl::atomic_thread_fence(rl::mo_seq_cst, here(l));
    }
};

static_assert(weft::detail::atomics_policy<rl_fallback_atomics>);

}  // namespace weft::model
