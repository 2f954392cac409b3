// weft — parallel_inclusive_scan and parallel_exclusive_scan on the executor (issue 11).
//
// A blocked two-pass scan. [0, n) is cut into K blocks (k_scan_blocks_per_worker per
// worker, none shorter than k_scan_min_block). Pass 1, in parallel: block 0 is scanned
// into the output at once (it needs no offset) and blocks 1 .. K-2 are reduced (the last
// block's sum is never needed). Then the block sums are scanned serially into each
// block's offset, and pass 2 scans blocks 1 .. K-1 from their offsets in parallel. `op`
// is applied in index order within a block and blocks are combined left to right, so it
// needs to be associative only, not commutative. A range shorter than
// 2 * k_scan_min_block, or an executor with one worker, runs the std algorithm on the
// calling thread.
//
// d_first == first (in place) is allowed, as for std: each element is read before the
// output at its index is written, and blocks are disjoint. Threading and errors as in
// algorithms.hpp: from a worker in place, from another thread as a task the caller
// blocks on; the first exception of `op` is rethrown once, the output is then partly
// written.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/algorithms.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace weft {

namespace detail {

/// No scan block is shorter than this (a block costs a task and a combine).
inline constexpr std::size_t k_scan_min_block = std::size_t{1} << 12;
/// Blocks per worker: enough for a thief to find work when blocks run at uneven speed.
inline constexpr std::size_t k_scan_blocks_per_worker = 8;

/// The number of blocks a scan of `n` elements uses on `workers` workers (1: serial).
inline std::size_t scan_block_count(std::size_t n, std::size_t workers) noexcept {
    if (workers <= 1) return 1;
    return std::clamp<std::size_t>(n / k_scan_min_block, 1, k_scan_blocks_per_worker * workers);
}

/// op(...op(op(*b, b[1]), b[2])..., b[n-1]) as a T: a block's sum, in index order.
template <class T, class It, class Op>
T reduce_block(It b, It e, Op& op) {
    T acc(*b);
    for (++b; b != e; ++b) acc = op(std::move(acc), *b);
    return acc;
}

/// Scans [b, e) into out starting from `acc`: inclusive writes op(acc, x) at each index,
/// exclusive writes acc and then folds x in. Reads each input before writing its
/// output (in place is fine). Returns the carry after the block.
template <bool Inclusive, class T, class It, class Out, class Op>
T scan_block(It b, It e, Out out, T acc, Op& op) {
    for (; b != e; ++b, ++out) {
        if constexpr (Inclusive) {
            acc = op(std::move(acc), *b);
            *out = acc;
        } else {
            T next = op(acc, *b);
            *out = std::move(acc);
            acc = std::move(next);
        }
    }
    return acc;
}

/// The two passes over [first, first + n) in `blocks` blocks. `init` is the value
/// block 0 starts from (exclusive scan), or nullopt (inclusive: block 0 starts from its
/// first element). Runs on a worker of `ex`; records the first exception in `ctl`.
template <bool Inclusive, class T, class It, class Out, class Op>
void blocked_scan(executor& ex, loop_control& ctl, It first, Out d_first, std::size_t n, std::size_t blocks,
                  std::optional<T>& init, Op& op) {
    using diff = std::iter_difference_t<It>;
    using out_diff = std::iter_difference_t<Out>;
    // Block k is [k n / K, (k + 1) n / K): none is empty, as n >= K.
    const auto begin_of = [n, blocks](std::size_t k) { return k * n / blocks; };
    std::vector<std::optional<T>> carry(blocks);  // pass 1: block sums; then offsets
    const auto guarded = [&ctl](auto&& f) {
        if (ctl.stopped()) return;
        try {
            f();
        } catch (...) {
            ctl.fail(std::current_exception());
        }
    };
    const auto run_pass = [&](std::size_t k0, std::size_t k1, auto& body) {
        task_group g{ex};
        for (std::size_t k = k0 + 1; k < k1; ++k) g.run([&guarded, &body, k] { guarded([&] { body(k); }); });
        guarded([&] { body(k0); });
        g.wait();
    };
    auto pass1 = [&](std::size_t k) {
        const It b = first + static_cast<diff>(begin_of(k));
        const It e = first + static_cast<diff>(begin_of(k + 1));
        if (k != 0) {
            carry[k].emplace(reduce_block<T>(b, e, op));
        } else if constexpr (Inclusive) {
            *d_first = *b;
            carry[0].emplace(scan_block<true>(b + 1, e, d_first + 1, T(*b), op));
        } else {
            carry[0].emplace(scan_block<false>(b, e, d_first, std::move(*init), op));
        }
    };
    run_pass(0, blocks - 1, pass1);
    if (ctl.stopped()) return;
    // Offsets: carry[k] becomes the scan of everything before block k.
    for (std::size_t k = 1; k + 1 < blocks; ++k) carry[k].emplace(op(*carry[k - 1], std::move(*carry[k])));
    auto pass2 = [&](std::size_t k) {
        const It b = first + static_cast<diff>(begin_of(k));
        const It e = first + static_cast<diff>(begin_of(k + 1));
        scan_block<Inclusive>(b, e, d_first + static_cast<out_diff>(begin_of(k)), std::move(*carry[k - 1]), op);
    };
    run_pass(1, blocks, pass2);
}

/// Checks the range, runs the serial or the blocked scan, returns the output end.
template <bool Inclusive, class T, class It, class Out, class Op, class Serial>
Out scan(executor& ex, It first, It last, Out d_first, std::optional<T> init, Op& op, const char* who, Serial serial) {
    if (last < first) throw std::invalid_argument(std::string{who} + ": first > last");
    const auto n = static_cast<std::size_t>(last - first);
    const Out d_last = d_first + static_cast<std::iter_difference_t<Out>>(n);
    if (n == 0) return d_last;
    const std::size_t blocks = scan_block_count(n, ex.worker_count());
    if (blocks < 2) {
        serial();
        return d_last;
    }
    loop_control ctl;
    run_on_executor(ex, [&] { blocked_scan<Inclusive>(ex, ctl, first, d_first, n, blocks, init, op); });
    ctl.rethrow_if_failed();
    return d_last;
}

}  // namespace detail

/// Writes op(x0, ..., xi) at d_first[i] for every i, as std::inclusive_scan, on `ex` in
/// parallel; `op` must be associative (need not be commutative). d_first == first is
/// allowed. Returns the end of the output. Throws std::invalid_argument for
/// first > last; rethrows the first exception of `op`. Thread-safe.
template <std::random_access_iterator It, std::random_access_iterator Out, class Op>
Out parallel_inclusive_scan(executor& ex, It first, It last, Out d_first, Op op) {
    using T = std::iter_value_t<It>;
    return detail::scan<true>(ex, first, last, d_first, std::optional<T>{}, op, "weft::parallel_inclusive_scan",
                              [&] { std::inclusive_scan(first, last, d_first, op); });
}

/// parallel_inclusive_scan with std::plus<>.
template <std::random_access_iterator It, std::random_access_iterator Out>
Out parallel_inclusive_scan(executor& ex, It first, It last, Out d_first) {
    return parallel_inclusive_scan(ex, first, last, d_first, std::plus<>{});
}

/// Writes op(init, x0, ..., x(i-1)) at d_first[i] for every i, as std::exclusive_scan,
/// on `ex` in parallel; `op` associative, d_first == first allowed, errors as above.
/// Returns the end of the output. Thread-safe.
template <std::random_access_iterator It, std::random_access_iterator Out, class T, class Op>
Out parallel_exclusive_scan(executor& ex, It first, It last, Out d_first, T init, Op op) {
    return detail::scan<false>(ex, first, last, d_first, std::optional<T>{init}, op, "weft::parallel_exclusive_scan",
                               [&] { std::exclusive_scan(first, last, d_first, init, op); });
}

/// parallel_exclusive_scan with std::plus<>.
template <std::random_access_iterator It, std::random_access_iterator Out, class T>
Out parallel_exclusive_scan(executor& ex, It first, It last, Out d_first, T init) {
    return parallel_exclusive_scan(ex, first, last, d_first, std::move(init), std::plus<>{});
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
