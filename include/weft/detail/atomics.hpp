// weft — the atomics policy that the lock-free building blocks are written against.
//
// The deque and the sleep protocol take an `Atomics` template parameter so that the
// very code that ships can also be compiled against Relacy's `rl::atomic` in
// tests/model/. The library uses `std_atomics`; a model supplies its own policy with
// the same members.
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
                                  std::uint32_t value, std::memory_order order) {
    P::thread_fence(order);
    P::wait(word, value);
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

/// The shipping policy: std::atomic and the operating system's futex.
struct std_atomics {
    template <class T>
    using atomic = std::atomic<T>;

    static void thread_fence(std::memory_order order) noexcept {
        std::atomic_thread_fence(order);
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
