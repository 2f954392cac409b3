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
//     once every thread is blocked or finished.
#pragma once

#include <weft/detail/atomics.hpp>

#include <atomic>
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

/// The Relacy atomics policy. Stateless.
struct rl_atomics {
    template <class T>
    using atomic = rl_atomic<T>;

    static void thread_fence(std::memory_order order, const call_site& l = call_site::current()) {
        rl::atomic_thread_fence(to_rl(order), here(l));
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

}  // namespace weft::model
