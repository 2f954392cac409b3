// weft — the atomics policy that the lock-free building blocks are written against.
//
// The deque and the sleep protocol take an `Atomics` template parameter so that the
// very code that ships can also be compiled against Relacy's `rl::atomic` in
// tests/model/. The library uses `std_atomics`; a model supplies its own policy with
// the same members.
//
// The asymmetric fence (heavy_barrier / light_barrier) lets a rare path pay for a Dekker
// pair whose other side is hot: the rare side issues membarrier(2) with
// MEMBARRIER_CMD_PRIVATE_EXPEDITED, which makes every running thread of the process
// execute a full fence at whatever instruction it is at; the hot side then needs only a
// compiler barrier, so that its store and its loads stay in program order around wherever
// that fence lands. Where the kernel refuses membarrier (ENOSYS, EPERM under seccomp,
// EINVAL), the light side becomes a seq_cst fence and the heavy side does nothing more.
// Used by sleep_protocol's spawn path (docs/design/scheduler.md, "Waking on spawn").
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

/// The members a policy provides. Thread-safety: stateless.
template <class P>
concept atomics_policy = requires(typename P::template atomic<std::uint32_t>& word,
                                  std::uint32_t value, std::memory_order order,
                                  std::chrono::nanoseconds timeout) {
    P::thread_fence(order);
    P::heavy_barrier();
    P::light_barrier();
    P::wait(word, value);
    P::wait_for(word, value, timeout);
    P::wake_one(word);
    P::wake_all(word);
};

/// Futex-style wait: blocks while `word == expected` (spurious returns allowed).
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept;
/// As futex_wait, giving up after `timeout`.
void futex_wait_for(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                    std::chrono::nanoseconds timeout) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;

/// Registers the process for the asymmetric fence (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED),
/// or selects the fallback if the kernel refuses. Decided once per process; later calls
/// return at once. Call it before starting any thread that uses the heavy or light
/// barrier (scheduler's constructor does). Thread-safe.
void register_asymmetric_fence() noexcept;
/// Whether the light barrier is a real fence because membarrier is unavailable (also
/// true before registration). Thread-safe.
bool asymmetric_fence_is_fallback() noexcept;
/// The heavy side: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), nothing in the fallback.
/// Thread-safe.
void asymmetric_fence_heavy() noexcept;
/// Set once by register_asymmetric_fence(); true until then. Read by the light barrier.
extern std::atomic<bool> g_asymmetric_fence_fallback;

/// The shipping policy: std::atomic and the operating system's futex.
struct std_atomics {
    template <class T>
    using atomic = std::atomic<T>;

    static void thread_fence(std::memory_order order) noexcept {
        std::atomic_thread_fence(order);
    }

    /// The rare side of an asymmetric fence: every other running thread of the process
    /// executes a full fence somewhere in its instruction stream before this returns.
    static void heavy_barrier() noexcept { asymmetric_fence_heavy(); }

    /// The hot side of an asymmetric fence: a compiler barrier, or a seq_cst fence in
    /// the fallback. Pairs with heavy_barrier() as a seq_cst fence pairs with another.
    static void light_barrier() noexcept {
        // Written once by register_asymmetric_fence() before any caller's thread started.
        if (g_asymmetric_fence_fallback.load(std::memory_order_relaxed)) [[unlikely]]  // relaxed: pairs with thread creation after register_asymmetric_fence()'s store
            std::atomic_thread_fence(std::memory_order_seq_cst);  // seq_cst: pairs with park()'s F2 (heavy_barrier() is empty in the fallback)
        else
            std::atomic_signal_fence(std::memory_order_seq_cst);  // seq_cst, compiler only: pairs with heavy_barrier()'s membarrier, which needs the push before the loads
    }

    /// Arrays of atomics for the deque's rings; a model tracks these to catch
    /// use-after-free.
    template <class T>
    static T* new_array(std::size_t n) {
        return new T[n];
    }
    template <class T>
    static void delete_array(T* p, std::size_t /*n*/) noexcept {
        delete[] p;
    }

    static void wait(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
        futex_wait(word, expected);
    }
    /// As wait(), giving up after `timeout`: returns once `word != expected` or the time
    /// is up, riding out the futex's spurious returns in between.
    static void wait_for(atomic<std::uint32_t>& word, std::uint32_t expected,
                         std::chrono::nanoseconds timeout) noexcept {
        using std::chrono::nanoseconds;
        using clock = std::chrono::steady_clock;
        if (timeout <= nanoseconds::zero()) return;
        const clock::time_point start = clock::now();
        while (word.load(std::memory_order_relaxed) == expected) {  // relaxed: only decides whether to block again; callers re-load with acquire (pairs with wake's RMW)
            // No overflow: timeout > 0 and the elapsed time is >= 0.
            const nanoseconds left = timeout - (clock::now() - start);
            if (left <= nanoseconds::zero()) return;
            futex_wait_for(word, expected, left);
        }
    }
    static void wake_one(atomic<std::uint32_t>& word) noexcept { futex_wake_one(word); }
    static void wake_all(atomic<std::uint32_t>& word) noexcept { futex_wake_all(word); }
};

static_assert(atomics_policy<std_atomics>);

/// A spin-wait hint to the processor.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

inline constexpr std::size_t k_cache_line = 64;

}  // namespace weft::detail
