// weft — the lock-free counting of a task graph's run, written against an atomics policy
// so that tests/model/graph_counts_model.cpp checks the very code graph_run.cpp ships.
//
// Three protocols:
//   * join: a node with k > 1 strong predecessors is ready when the last of them
//     arrives (an acq_rel countdown: each predecessor's work is visible to the node);
//     with k == 1 the one predecessor makes it ready without touching the counter.
//   * scope: the count of nodes scheduled and not finished in a scope (a run, a subflow,
//     a composed graph). A finishing node hands its unit to the one successor it keeps,
//     adds one per other ready successor BEFORE publishing it (else that successor could
//     finish and take the count to zero while work remains), and leaves (acq_rel
//     decrement) when it keeps none; the thread that takes it to zero ends the scope and
//     sees every node's work.
//   * outcome: cancel() of a running run and the run's end race on one word; whichever
//     RMW comes first decides, so a cancel that returns true always ends the run
//     cancelled.
// Thread safety: each function is thread-safe on the atomics it is given.
#pragma once

#include <weft/detail/atomics.hpp>

#include <atomic>
#include <cstdint>

namespace weft::detail {

/// Faults a model checker seeds into the protocols to prove it would catch them.
enum class graph_fault {
    none,
    relaxed_join,      // the join countdown publishes and acquires nothing
    count_after_push,  // a ready successor is published before it is counted
    relaxed_leave,     // leaving a scope publishes and acquires nothing
    cancel_by_store,   // cancel checks the word, then sets its bit with a plain store
};

template <atomics_policy Atomics = std_atomics, graph_fault Fault = graph_fault::none>
struct graph_counts {
    template <class U>
    using atomic = typename Atomics::template atomic<U>;

    static constexpr std::uint32_t k_cancel = 1;     // cancel() accepted
    static constexpr std::uint32_t k_failed = 2;     // a node threw
    static constexpr std::uint32_t k_finishing = 4;  // the outcome is decided

    /// A strong predecessor of a node with `strong` of them finished; true if the node
    /// is now ready.
    static bool arrive(atomic<std::int32_t>& join, std::int32_t strong) noexcept {
        if (strong == 1) return true;
        // acq_rel: release publishes this predecessor's work to the node's runner;
        // acquire (for the last one) sees the other predecessors'.
        constexpr std::memory_order order =
            Fault == graph_fault::relaxed_join ? std::memory_order_relaxed : std::memory_order_acq_rel;  // acq_rel: pairs with the other predecessors' arrive()
        return join.fetch_sub(1, order) == 1;
    }

    /// Re-arms a node's join counter as it starts (a loop may run it again).
    static void rearm(atomic<std::int32_t>& join, std::int32_t strong) noexcept {
        // relaxed: every strong predecessor has arrived (the node is ready); the next
        // round's arrivals follow this node's finish or a reset, both ordered after it.
        if (strong > 1) join.store(strong, std::memory_order_relaxed);  // relaxed: the next arrive() is ordered after by this node's push or a reset
    }

    /// Counts `count` ready nodes in `scope`, then publishes each with `publish(i)` (a
    /// push onto a deque: a release that whoever runs the node acquires).
    template <class Publish>
    static void hand_out(atomic<std::int64_t>& scope, std::uint32_t count, Publish&& publish) {
        if constexpr (Fault == graph_fault::count_after_push) {
            for (std::uint32_t i = 0; i < count; ++i) publish(i);
            scope.fetch_add(count, std::memory_order_relaxed);  // relaxed: the seeded mutant (publishes first)
        } else {
            // relaxed: the publish below (a release) orders it before any leave() by
            // these nodes, whose RMWs then follow it in the count's modification order.
            scope.fetch_add(count, std::memory_order_relaxed);  // relaxed: publish()'s release orders it before these nodes' leave()
            for (std::uint32_t i = 0; i < count; ++i) publish(i);
        }
    }

    /// A node of `scope` finished and keeps no successor; true if it was the last.
    static bool leave(atomic<std::int64_t>& scope) noexcept {
        // acq_rel: release publishes this node's work to the thread that ends the
        // scope; acquire (for that thread) sees every other node's.
        constexpr std::memory_order order =
            Fault == graph_fault::relaxed_leave ? std::memory_order_relaxed : std::memory_order_acq_rel;
        return scope.fetch_sub(1, order) == 1;
    }

    /// cancel() of a running run: true if accepted (the run will end cancelled).
    static bool request_cancel(atomic<std::uint32_t>& flags) noexcept {
        // relaxed: a first guess for the CAS.
        std::uint32_t f = flags.load(std::memory_order_relaxed);
        if constexpr (Fault == graph_fault::cancel_by_store) {
            if ((f & k_finishing) != 0) return (f & k_cancel) != 0;
            flags.store(f | k_cancel, std::memory_order_release);
            return true;
        } else {
            while ((f & k_finishing) == 0) {
                // acq_rel: ordered against decide()'s RMW on the same word.
                if (flags.compare_exchange_weak(f, f | k_cancel, std::memory_order_acq_rel, std::memory_order_relaxed))
                    return true;
            }
            return (f & k_cancel) != 0;
        }
    }

    /// The run ends: fixes the outcome; returns the flags (k_cancel set: cancelled).
    static std::uint32_t decide(atomic<std::uint32_t>& flags) noexcept {
        // acq_rel: ordered against request_cancel()'s CAS; acquire sees the first
        // failure's error written before its k_failed bit.
        return flags.fetch_or(k_finishing, std::memory_order_acq_rel) | k_finishing;
    }

    /// A node failed: true if it is the first (its error is to be kept).
    static bool first_failure(atomic<std::uint32_t>& flags) noexcept {
        // acq_rel: one failure wins. Its error, written after this, reaches the run's
        // end through the scope count (the failing node leaves its scope after it).
        return (flags.fetch_or(k_failed, std::memory_order_acq_rel) & k_failed) == 0;
    }
};

}  // namespace weft::detail
