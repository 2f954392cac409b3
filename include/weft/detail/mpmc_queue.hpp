// weft — an unbounded lock-free MPMC FIFO of pointers: the injection queue of the
// scheduler and the queue of the thread pool. Not API.
//
// The implementation is boost::lockfree::queue (Michael & Scott 1996 with a freelist),
// kept in lib/mpmc_queue.cpp so that no public header needs Boost: this header holds it
// in opaque storage, sized and aligned here and checked by a static_assert there.
//
// Performance: push and pop are out-of-line calls. A push+pop pair costs about 4 ns more
// than inlined Boost (1.06-1.09x, single-threaded), 0.5-1.3% of a submitted task in
// bench/submit_bench and bench/pool_bench (docs/benchmarks/2026-11-29-compare-a579eb1-
// d8458c9/NOTES.md).
//
// Thread safety: push and pop are thread-safe, from any number of threads; construction
// and destruction are not concurrent with anything.
//
// Memory order: a push happens-before the pop that returns its pointer (Boost's push
// links the node with a seq_cst CAS on the last node's next, which pop reads with an
// acquire load), so what the pusher wrote to the pointee before push is visible after pop.
#pragma once

#include <weft/detail/atomics.hpp>

#include <cstddef>
#include <type_traits>

namespace weft::detail {

/// An unbounded MPMC FIFO of `void*`, lock-free except when it grows. Thread-safe.
class mpmc_queue {
public:
    /// Preallocates about `capacity_hint` nodes; the queue grows past them. Owner-only.
    explicit mpmc_queue(std::size_t capacity_hint);
    /// Frees the nodes; pointers still queued are dropped, not deleted. Owner-only.
    ~mpmc_queue();
    mpmc_queue(const mpmc_queue&) = delete;
    mpmc_queue& operator=(const mpmc_queue&) = delete;

    /// Appends `p`; false only when a node could not be allocated. Thread-safe.
    bool push(void* p);
    /// Takes the oldest pointer into `out`; false when the queue was seen empty (it may
    /// fail while a concurrent push is half done: callers re-check). Thread-safe.
    bool pop(void*& out) noexcept;

    /// Bytes reserved for Boost's queue (lib/mpmc_queue.cpp checks that they suffice).
    static constexpr std::size_t k_storage_bytes = 4 * k_cache_line;

private:
    // boost::lockfree::queue<void*>, constructed in place by lib/mpmc_queue.cpp (136
    // bytes with Boost 1.74 on x86-64; its head and tail are padded to cache lines).
    alignas(k_cache_line) std::byte m_storage[k_storage_bytes];
};

/// A pointer to an object type (what mpmc_queue_of holds).
template <class Pointer>
concept object_pointer =
    std::is_pointer_v<Pointer> && std::is_object_v<std::remove_pointer_t<Pointer>>;

/// mpmc_queue typed to hold `Pointer`s. Thread-safe as mpmc_queue.
template <object_pointer Pointer>
class mpmc_queue_of {
    using pointee = std::remove_cv_t<std::remove_pointer_t<Pointer>>;

public:
    /// Preallocates about `capacity_hint` nodes. Owner-only.
    explicit mpmc_queue_of(std::size_t capacity_hint) : m_queue(capacity_hint) {}

    /// Appends `p`; false only when a node could not be allocated. Thread-safe.
    bool push(Pointer p) { return m_queue.push(const_cast<pointee*>(p)); }
    /// Takes the oldest pointer into `out`; false when seen empty. Thread-safe.
    bool pop(Pointer& out) noexcept {
        void* raw = nullptr;
        if (!m_queue.pop(raw)) return false;
        out = static_cast<Pointer>(raw);
        return true;
    }

private:
    mpmc_queue m_queue;
};

}  // namespace weft::detail
