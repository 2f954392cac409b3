// weft — the lock-free core of a future's shared state: the state word with its waiter
// handshake, and the list of continuations that run once the state is done.
//
// The state word: bits 0-2 are the phase, bit 3 says "a thread may be blocked on this
// word". Phases:
//
//   pending --try_start--> running --+
//      |                             +--try_begin_complete--> completing --end_complete--> finished
//      +-----------------------------+
//      +--try_cancel--> cancelled
//
// `completing` gives one thread the exclusive right to write the value (or exception)
// before `finished` publishes it. A waiter sets the waiter bit with an RMW and then
// sleeps while the word still equals what it read; the completer swaps in the final
// phase with an RMW that returns the old word, so it sees the waiter bit whenever the
// waiter's RMW came first. Otherwise the waiter's RMW reads the final phase and it does
// not sleep: no wake-up is lost. tests/model/future_state_model.cpp checks this against
// seeded mutants.
//
// The continuation list is a Treiber stack that is closed exactly once: close() swaps in
// a sentinel and returns what was pushed, in the order it was pushed; a push that finds
// the sentinel fails, and its caller runs the continuation at once. Each continuation
// therefore runs exactly once, whether it was added before or after completion.
//
// Thread safety: all members are thread-safe.
#pragma once

#include <weft/detail/atomics.hpp>

#include <chrono>
#include <cstdint>
#include <type_traits>

namespace weft::detail {

/// The phase of a future's shared state.
enum class future_phase : std::uint32_t {
    pending = 0,
    running = 1,
    completing = 2,
    finished = 3,
    cancelled = 4,
};

/// Faults a model checker seeds into the handshake to prove it would catch them.
enum class future_fault {
    none,
    waiter_bit_by_store,  // the waiter publishes its bit with load + store, not an RMW
    relaxed_publish,      // end_complete and the waiter's loads are relaxed
    no_wake,              // the completer never wakes blocked waiters
    relaxed_close,        // continuation_list: close() swaps in the sentinel relaxed
    relaxed_drop,         // ref_count: a dropped reference is released relaxed
    relaxed_reader_count, // ref_count: readers() loads relaxed
};

/// What try_start() found.
enum class start_result { started, cancelled, unexpected };

template <atomics_policy Atomics = std_atomics, future_fault Fault = future_fault::none>
class state_word {
    template <class U>
    using atomic = typename Atomics::template atomic<U>;

    // k_publish (acq_rel): the RMW that makes a phase final (finish(), try_cancel());
    // its release half pairs with k_observe in load() and announce(), its acquire half
    // reads the waiter bit that announce()'s RMW set. Relaxed only in the seeded mutant.
    static constexpr std::memory_order k_publish =
        Fault == future_fault::relaxed_publish ? std::memory_order_relaxed
                                               : std::memory_order_acq_rel;
    // k_observe (acquire): a reader of the word (load(), announce()); pairs with
    // k_publish, so seeing a final phase means seeing the result written before it.
    static constexpr std::memory_order k_observe =
        Fault == future_fault::relaxed_publish ? std::memory_order_relaxed
                                               : std::memory_order_acquire;

public:
    static constexpr std::uint32_t k_phase_mask = 7;
    static constexpr std::uint32_t k_waiters = 8;

    state_word() = default;
    /// A word born in phase `p` (a state made already done, before anyone can see it).
    explicit state_word(future_phase p) noexcept : m_word{static_cast<std::uint32_t>(p)} {}

    static constexpr future_phase phase_of(std::uint32_t word) noexcept {
        return static_cast<future_phase>(word & k_phase_mask);
    }
    static constexpr bool done(std::uint32_t word) noexcept {
        const future_phase p = phase_of(word);
        return p == future_phase::finished || p == future_phase::cancelled;
    }

    /// The current word. acquire: pairs with the release of end_complete()/try_cancel(),
    /// so a reader that sees a final phase also sees the value.
    std::uint32_t load() const noexcept { return m_word.load(k_observe); }
    future_phase phase() const noexcept { return phase_of(load()); }
    bool is_done() const noexcept { return done(load()); }

    /// pending -> running.
    start_result try_start() noexcept {
        // relaxed: a first guess for the CAS below, whose acquire (success or failure)
        // is what orders anything read after it.
        std::uint32_t w = m_word.load(std::memory_order_relaxed);
        for (;;) {
            const future_phase p = phase_of(w);
            if (p == future_phase::cancelled) return start_result::cancelled;
            if (p != future_phase::pending) return start_result::unexpected;
            // acquire on success: the runner sees what the submitter wrote before
            // publishing the task (also ordered by the queue); acquire on failure:
            // a cancelled phase is final, its effects are visible.
            if (m_word.compare_exchange_weak(w, (w & ~k_phase_mask) | 1U,
                                             std::memory_order_acquire,
                                             std::memory_order_acquire))
                return start_result::started;
        }
    }

    /// pending or running -> completing: the caller alone may now write the result.
    bool try_begin_complete() noexcept {
        // relaxed: a first guess for the CAS below; the claim publishes nothing (the
        // result is published by end_complete()'s k_publish exchange).
        std::uint32_t w = m_word.load(std::memory_order_relaxed);
        for (;;) {
            const future_phase p = phase_of(w);
            if (p != future_phase::pending && p != future_phase::running) return false;
            // relaxed: the result is written after this and published by end_complete().
            if (m_word.compare_exchange_weak(w, (w & ~k_phase_mask) | 2U,
                                             std::memory_order_relaxed,
                                             std::memory_order_relaxed))
                return true;
        }
    }

    /// completing -> finished; wakes every blocked waiter.
    void end_complete() noexcept { finish(future_phase::finished); }

    /// completing -> cancelled (a continuation that propagates an upstream cancellation).
    void end_cancelled() noexcept { finish(future_phase::cancelled); }

    /// pending -> cancelled; wakes every blocked waiter. True if this call cancelled it.
    bool try_cancel() noexcept {
        // relaxed: a first guess for the CAS below; a pending word carries no data, and
        // the CAS's k_publish is the release that waiters' k_observe pairs with.
        std::uint32_t w = m_word.load(std::memory_order_relaxed);
        for (;;) {
            if (phase_of(w) != future_phase::pending) return false;
            // k_publish on success: publishes the cancellation like end_complete() does;
            // relaxed on failure: the loop only re-examines the phase.
            if (m_word.compare_exchange_weak(w, static_cast<std::uint32_t>(future_phase::cancelled),
                                             k_publish, std::memory_order_relaxed)) {
                if ((w & k_waiters) != 0 && Fault != future_fault::no_wake) Atomics::wake_all(m_word);
                return true;
            }
        }
    }

    /// Blocks until the phase is final (finished or cancelled).
    void wait() noexcept {
        std::uint32_t w = load();
        while (!done(w)) {
            w = announce(w);
            if (done(w)) break;
            Atomics::wait(m_word, w);
            w = load();
        }
    }

    /// Announces a waiter and blocks once, for at most `timeout` (std atomics only).
    /// Returns with the word's phase possibly still not final: callers loop.
    void wait_once_for(std::chrono::nanoseconds timeout) noexcept
        requires requires(atomic<std::uint32_t>& a) { futex_wait_for(a, 0U, timeout); }
    {
        std::uint32_t w = announce(load());
        if (!done(w)) futex_wait_for(m_word, w, timeout);
    }

private:
    void finish(future_phase to) noexcept {
        // acq_rel: release publishes the result to load()'s acquire; the RMW returns the
        // waiter bit set by announce()'s RMW if that came first (the handshake).
        const std::uint32_t old = m_word.exchange(static_cast<std::uint32_t>(to), k_publish);
        if ((old & k_waiters) != 0 && Fault != future_fault::no_wake) Atomics::wake_all(m_word);
    }

    /// Sets the waiter bit; returns the word as it now is (with the bit) or a final one.
    std::uint32_t announce(std::uint32_t w) noexcept {
        if ((w & k_waiters) != 0) return w;
        if constexpr (Fault == future_fault::waiter_bit_by_store) {
            m_word.store(w | k_waiters, std::memory_order_relaxed);  // relaxed: the seeded
            return w | k_waiters;                                    // mutant, not an RMW
        } else {
            // acquire: if the word is already final, the result is visible; the RMW is
            // ordered with finish()'s exchange on the same word.
            return m_word.fetch_or(k_waiters, k_observe) | k_waiters;
        }
    }

    atomic<std::uint32_t> m_word{0};
};

/// The reference count of a shared state: bits 0-31 count every reference, bits 32-63
/// those that are *readers* (owners that may read the value: future handles,
/// continuations not yet run). Work references (a queued task, a promise) never read it.
/// A reader that finds itself the only one may move the value out (future::get() &&):
/// every other reader released its reference after its last read, and that release
/// (acq_rel) pairs with readers()' acquire, so those reads happen before the move.
/// tests/model/ref_count_model.cpp checks this against seeded mutants.
template <atomics_policy Atomics = std_atomics, future_fault Fault = future_fault::none>
class ref_count {
    // k_drop (acq_rel): a dropped reference publishes the owner's reads and writes to the
    // last owner (who deletes) and to a sole reader's readers(). Relaxed: the mutant.
    static constexpr std::memory_order k_drop =  // acq_rel: pairs with drop()'s and readers()' loads
        Fault == future_fault::relaxed_drop ? std::memory_order_relaxed : std::memory_order_acq_rel;
    // k_count (acquire): pairs with k_drop. Relaxed: the mutant.
    static constexpr std::memory_order k_count =  // acquire: pairs with the other readers' k_drop
        Fault == future_fault::relaxed_reader_count ? std::memory_order_relaxed : std::memory_order_acquire;

public:
    static constexpr std::uint64_t k_reader = std::uint64_t{1} << 32;
    static constexpr std::uint64_t k_ref_mask = k_reader - 1;

    /// `refs` references, `readers` of which are readers.
    explicit ref_count(std::uint32_t refs = 1, std::uint32_t readers = 0) noexcept
        : m_word{refs + readers * k_reader} {}

    /// One more work reference (the caller holds a reference). relaxed: the caller's own
    /// reference keeps the count above zero; nothing is published.
    void add_ref() noexcept { m_word.fetch_add(1, std::memory_order_relaxed); }  // relaxed: publishes nothing
    /// One more reader reference (the caller holds a reference). relaxed: as add_ref.
    void add_reader() noexcept { m_word.fetch_add(1 + k_reader, std::memory_order_relaxed); }  // relaxed: as add_ref
    /// Turns a work reference the caller holds into a reader reference. relaxed: as add_ref.
    void promote_to_reader() noexcept { m_word.fetch_add(k_reader, std::memory_order_relaxed); }  // relaxed: as add_ref

    /// Drops a work reference (`reader` false) or a reader reference; true if it was the
    /// last reference: the caller deletes the state.
    bool drop(bool reader) noexcept {
        const std::uint64_t one = reader ? 1 + k_reader : 1;
        // A word equal to `one` seen by an owner means no one else holds or can take a
        // reference: skip the RMW. acquire: pairs with the other owners' k_drop, so
        // their accesses happen before the delete.
        if (m_word.load(std::memory_order_acquire) == one) return true;
        return (m_word.fetch_sub(one, k_drop) & k_ref_mask) == 1;
    }

    /// Reader references alive now (see the class comment).
    std::uint32_t readers() const noexcept { return static_cast<std::uint32_t>(m_word.load(k_count) >> 32); }

private:
    typename Atomics::template atomic<std::uint64_t> m_word;
};

/// A node of a continuation_list: anything with an `m_next` pointer to its own type.
template <class Node>
concept list_node = requires(Node& n) {
    { n.m_next } -> std::convertible_to<Node*>;
};

/// The continuations of one state; closed exactly once.
template <class Node, atomics_policy Atomics = std_atomics,
          future_fault Fault = future_fault::none>
class continuation_list {
    // k_close (acq_rel): close()'s exchange; acquire pairs with push()'s release CAS
    // (sees the nodes), release pairs with push()'s acquire loads (a pusher that finds
    // the list closed sees the result). Relaxed only in the seeded mutant.
    static constexpr std::memory_order k_close =
        Fault == future_fault::relaxed_close ? std::memory_order_relaxed
                                             : std::memory_order_acq_rel;

public:
    continuation_list() = default;
    /// A list born closed (its state is made already done).
    explicit continuation_list(std::true_type /*closed*/) noexcept : m_head{closed()} {}

    /// Adds `n` unless the list is closed; false means the caller must run it now.
    bool push(Node* n) noexcept {
        // acquire: a push that finds the list closed must see the result that the
        // closer published before close()'s release.
        Node* head = m_head.load(std::memory_order_acquire);
        for (;;) {
            if (head == closed()) return false;
            n->m_next = head;
            // release: publishes *n to close()'s acquire; acquire on failure: as above.
            if (m_head.compare_exchange_weak(head, n, std::memory_order_release,
                                             std::memory_order_acquire))
                return true;
        }
    }

    /// Closes the list; returns its nodes in the order they were pushed.
    Node* close() noexcept {
        // acq_rel: acquire sees the pushed nodes; release publishes the result to pushers
        // that find the list closed.
        Node* n = m_head.exchange(closed(), k_close);
        Node* ordered = nullptr;
        while (n != nullptr) {
            Node* next = n->m_next;
            n->m_next = ordered;
            ordered = n;
            n = next;
        }
        return ordered;
    }

private:
    static Node* closed() noexcept {
        return reinterpret_cast<Node*>(alignof(Node));  // never a real node's address
    }

    typename Atomics::template atomic<Node*> m_head{nullptr};
};

}  // namespace weft::detail
