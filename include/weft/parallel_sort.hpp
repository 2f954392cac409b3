// weft — parallel_sort: a parallel quicksort on the executor (issue 11).
//
// A range longer than k_sort_cutoff is partitioned around a ninther pivot by a block
// partition (BlockQuicksort's: branch-free comparisons of a block at each end, then the
// swaps; elements equal to the pivot count as misplaced on both sides, so equal keys
// split evenly and all-equal or few-distinct inputs stay O(n log n)); the smaller side
// becomes a task of a task_group and the larger side is partitioned again on the same
// thread. Ranges at most k_sort_cutoff long are left to std::sort, and so is any range
// that is still longer after 2 log2(n) partitions (introsort's guard: an input that
// defeats the pivot choice costs std::sort's O(n log n), never O(n^2)). An input that
// is already sorted is recognised by one pass and left as it is.
//
// Called from one of the executor's workers the sort runs in place; from any other
// thread it runs as a task the caller blocks on (see algorithms.hpp). The first
// exception the comparator throws stops the pieces that have not started and is
// rethrown once; the range then holds a permutation of its elements (our partition only
// swaps, and std::sort sees the comparator through exception_safe_order).
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/algorithms.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <stdexcept>

namespace weft {

namespace detail {

/// Ranges up to this many elements are sorted by std::sort, with no further task.
inline constexpr std::size_t k_sort_cutoff = std::size_t{1} << 10;

/// The iterator among a, b, c whose element is the median of the three.
template <class It, class Comp>
It median_of_3(It a, It b, It c, Comp& comp) {
    if (comp(*a, *b)) {
        if (comp(*b, *c)) return b;
        return comp(*a, *c) ? c : a;
    }
    if (comp(*a, *c)) return a;
    return comp(*b, *c) ? c : b;
}

/// Swaps Tukey's ninther of [first, last) (the median of the medians of three spread
/// triples, none of them at first) into *first. The range holds more than 8 elements, so
/// the triples are disjoint: the smallest and the largest of the three medians stay in
/// [first + 1, last), one not greater and one not less than the pivot.
template <class It, class Comp>
void move_ninther_to_first(It first, It last, Comp& comp) {
    const auto n = last - first;
    const auto s = n / 8;
    const It mid = first + n / 2;
    const It lo = median_of_3(first + 1, first + 1 + s, first + 1 + 2 * s, comp);
    const It mi = median_of_3(mid - s, mid, mid + s, comp);
    const It hi = median_of_3(last - 1 - 2 * s, last - 1 - s, last - 1, comp);
    std::iter_swap(first, median_of_3(lo, mi, hi, comp));
}

/// Partitions [first, last) around *pivot (which lies outside it) and returns `cut`:
/// [first, cut) holds no element greater than the pivot, [cut, last) none less.
/// Elements equal to it go either way, so equal keys split evenly.
///
/// Block partition (Edelkamp and Weiss, "BlockQuicksort", ESA 2016): a block of
/// k_partition_block elements is compared at each end, branch-free, recording the
/// offsets of the misplaced ones, and then as many pairs as both blocks have are
/// swapped. A random input thus costs no mispredicted branch per element, as Hoare's
/// loop does. The elements left between the two sides when they are closer than two
/// blocks go through a plain guarded Hoare loop. Comparisons and swaps are in separate
/// steps: a comparator that throws leaves a permutation of the range.
inline constexpr std::ptrdiff_t k_partition_block = 64;

template <class It, class Comp>
It block_partition(It first, It last, It pivot, Comp& comp) {
    constexpr std::ptrdiff_t block = k_partition_block;
    std::uint8_t left_off[block];
    std::uint8_t right_off[block];
    std::ptrdiff_t left_n = 0;  // misplaced offsets left in the current left block
    std::ptrdiff_t right_n = 0;
    std::ptrdiff_t left_at = 0;  // the first of them not swapped yet
    std::ptrdiff_t right_at = 0;
    It l = first;  // [first, l) <= pivot; the left block is [l, l + block) while left_n > 0
    It r = last;   // [r, last) >= pivot; the right block is [r - block, r) while right_n > 0
    while (r - l > 2 * block) {
        if (left_n == 0) {
            left_at = 0;
            for (std::ptrdiff_t i = 0; i < block; ++i) {
                left_off[left_n] = static_cast<std::uint8_t>(i);
                left_n += !comp(l[i], *pivot);  // misplaced on the left: not less than the pivot
            }
        }
        if (right_n == 0) {
            right_at = 0;
            for (std::ptrdiff_t i = 0; i < block; ++i) {
                right_off[right_n] = static_cast<std::uint8_t>(i);
                right_n += !comp(*pivot, *(r - 1 - i));  // misplaced on the right: not greater
            }
        }
        const std::ptrdiff_t pairs = std::min(left_n, right_n);
        for (std::ptrdiff_t j = 0; j < pairs; ++j)
            std::iter_swap(l + left_off[left_at + j], r - 1 - right_off[right_at + j]);
        left_n -= pairs;
        right_n -= pairs;
        left_at += pairs;
        right_at += pairs;
        if (left_n == 0) l += block;
        if (right_n == 0) r -= block;
    }
    // [l, r) is what is left, a partly swapped block at either end included.
    for (;;) {
        while (l < r && comp(*l, *pivot)) ++l;
        while (l < r && comp(*pivot, *(r - 1))) --r;
        if (r - l < 2) return l;
        std::iter_swap(l, r - 1);
        ++l;
        --r;
    }
}

/// std::sort's insertion step holds one element outside the range, and a comparator
/// that throws there would lose it (and leave another twice). So std::sort gets `comp`
/// behind this wrapper: the first exception is recorded in `ctl`, and from then on every
/// pair compares equal, a valid order under which std::sort's loops all stop at once (an
/// unguarded scan stops sooner, never later) and it returns a permutation.
template <class Comp>
auto exception_safe_order(loop_control& ctl, Comp& comp, bool& broken) {
    // `broken` lives in the caller's frame: std::sort copies its comparator into every
    // call it makes, and a flag inside the copy would let another copy go on comparing
    // for real after the throw (and a mix of the two orders could defeat the sentinels).
    return [&ctl, &comp, &broken](auto&& a, auto&& b) -> bool {
        if (broken) return false;
        try {
            return comp(a, b);
        } catch (...) {
            broken = true;
            ctl.fail(std::current_exception());
            return false;
        }
    };
}

/// Sorts [first, last): partitions while it is longer than the cutoff, handing the
/// smaller side to `g`, then std::sort. Records the comparator's exception in `ctl`.
template <class It, class Comp>
void sort_piece(task_group& g, loop_control& ctl, It first, It last, Comp& comp, int depth) {
    try {
        while (static_cast<std::size_t>(last - first) > k_sort_cutoff) {
            if (ctl.stopped()) return;
            if (depth-- == 0) break;  // too many partitions: std::sort's introsort takes over
            move_ninther_to_first(first, last, comp);
            const It cut = block_partition(first + 1, last, first, comp);
            // [first, cut) <= pivot <= [cut, last); the smaller side runs as a task (so a
            // child that runs inline, inside run(), nests at most log2(n) deep).
            if (cut - first < last - cut) {
                g.run([&g, &ctl, first, cut, &comp, depth] { sort_piece(g, ctl, first, cut, comp, depth); });
                first = cut;
            } else {
                g.run([&g, &ctl, cut, last, &comp, depth] { sort_piece(g, ctl, cut, last, comp, depth); });
                last = cut;
            }
        }
        bool broken = false;
        if (!ctl.stopped()) std::sort(first, last, exception_safe_order(ctl, comp, broken));
    } catch (...) {
        ctl.fail(std::current_exception());
    }
}

}  // namespace detail

/// Sorts [first, last) by `comp` (a strict weak order) on `ex`, in parallel. Not stable:
/// equal elements may end in any order. Throws std::invalid_argument for first > last;
/// an empty range does nothing. Rethrows the first exception of `comp` (the range is
/// then a permutation of the input in unspecified order). Thread-safe (for disjoint
/// ranges).
template <std::random_access_iterator It, class Comp>
    requires std::sortable<It, Comp>
void parallel_sort(executor& ex, It first, It last, Comp comp) {
    if (last < first) throw std::invalid_argument("weft::parallel_sort: first > last");
    const auto n = static_cast<std::size_t>(last - first);
    if (n < 2) return;
    if (std::is_sorted(first, last, comp)) return;  // stops at the first descent: cheap on unsorted input
    detail::loop_control ctl;
    const int depth = 2 * static_cast<int>(std::bit_width(n));
    detail::run_on_executor(ex, [&] {
        task_group g{ex};
        detail::sort_piece(g, ctl, first, last, comp, depth);
        g.wait();
    });
    ctl.rethrow_if_failed();
}

/// Sorts [first, last) by operator< on `ex`, in parallel; not stable (see above).
template <std::random_access_iterator It>
    requires std::sortable<It>
void parallel_sort(executor& ex, It first, It last) {
    parallel_sort(ex, first, last, std::less<>{});
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
