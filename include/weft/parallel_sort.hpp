// weft — parallel_sort: a parallel quicksort on the executor (issue 11).
//
// A range longer than k_sort_cutoff is partitioned around a ninther pivot (Hoare's
// scheme, as std::sort does: elements equal to the pivot stop both scans, so equal keys
// split evenly and all-equal or few-distinct inputs stay O(n log n)); the smaller side
// becomes a task of a task_group and the larger side is partitioned again on the same
// thread. Ranges at most k_sort_cutoff long are left to std::sort, and so is any range
// that is still longer after 2 log2(n) partitions (introsort's guard: an input that
// defeats the pivot choice costs std::sort's O(n log n), never O(n^2)). An input that is already sorted is
// recognised by one pass and left as it is.
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
#include <exception>
#include <functional>
#include <iterator>
#include <stdexcept>

namespace weft {

namespace detail {

/// Ranges up to this many elements are sorted by std::sort, with no further task.
inline constexpr std::size_t k_sort_cutoff = std::size_t{1} << 12;

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

/// Hoare partition of [lo, hi) around *pivot (which lies outside it). Unguarded: the
/// ninther leaves an element not less than the pivot and one not greater in the range,
/// and every swap puts such a sentinel at each end of what is left.
template <class It, class Comp>
It unguarded_partition(It lo, It hi, It pivot, Comp& comp) {
    while (true) {
        while (comp(*lo, *pivot)) ++lo;
        --hi;
        while (comp(*pivot, *hi)) --hi;
        if (!(lo < hi)) return lo;
        std::iter_swap(lo, hi);
        ++lo;
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
            const It cut = unguarded_partition(first + 1, last, first, comp);
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
