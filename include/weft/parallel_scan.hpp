// weft — parallel_inclusive_scan and parallel_exclusive_scan on the executor (issue 11).
//
// A blocked scan from both ends. [0, n) is cut into K blocks (about k_scan_block long,
// at least k_scan_blocks_per_worker per worker, none shorter than k_scan_min_block).
// Pass 1: the calling worker scans blocks from the left into the output, carrying the
// prefix, while the other workers take blocks from the right and reduce them, until the
// two sides meet. Then the sums of the reduced blocks are scanned serially into their
// offsets, and pass 2 scans those blocks from their offsets in parallel. A block scanned
// in pass 1 is read once, a reduced one twice; with no spare worker it is the serial
// scan. `op` is applied in index order within a block and blocks are combined left to
// right, so it needs to be associative only, not commutative. A range shorter than
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
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace weft {

namespace detail {

/// No scan block is shorter than this (a block costs a hand-out and a combine).
inline constexpr std::size_t k_scan_min_block = std::size_t{1} << 12;
/// Blocks are about this long in a long scan (512 KiB of longs): fine enough that the
/// two sides meet near where their speeds say, coarse enough that handing them out costs
/// nothing measurable.
inline constexpr std::size_t k_scan_block = std::size_t{1} << 16;
/// At least this many blocks per worker, where k_scan_min_block allows.
inline constexpr std::size_t k_scan_blocks_per_worker = 8;

/// The number of blocks a scan of `n` elements uses on `workers` workers (1: serial).
inline std::size_t scan_block_count(std::size_t n, std::size_t workers) noexcept {
    if (workers <= 1) return 1;
    const std::size_t wanted = std::max(n / k_scan_block, k_scan_blocks_per_worker * workers);
    return std::max<std::size_t>(1, std::min(wanted, n / k_scan_min_block));
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

/// The scan of [first, first + n) in `blocks` blocks (at least 2), from both ends at
/// once. Pass 1: the calling worker scans blocks from the left into the output, carrying
/// the prefix (it knows where it starts), while the other workers take blocks from the
/// right and only reduce them; a mutex hands out the blocks, so the two sides meet
/// wherever their speeds make them. Pass 2 scans the reduced blocks, right of the
/// meeting point, from their offsets, in parallel. A block the left side takes is read
/// once, a reduced block twice: with two equally fast workers about a third of the range
/// is read once; with no spare worker (a busy machine) all of it is, as the serial scan.
/// `init` is the start (exclusive scan), or nullopt (inclusive: the first element).
/// Runs on a worker of `ex`; records the first exception in `ctl`.
template <bool Inclusive, class T, class It, class Out, class Op>
void blocked_scan(executor& ex, loop_control& ctl, It first, Out d_first, std::size_t n, std::size_t blocks,
                  std::optional<T>& init, Op& op) {
    using diff = std::iter_difference_t<It>;
    using out_diff = std::iter_difference_t<Out>;
    // Block k is [k n / K, (k + 1) n / K): none is empty, as n >= K.
    const auto begin_of = [n, blocks](std::size_t k) { return k * n / blocks; };
    const auto in_at = [&](std::size_t k) { return first + static_cast<diff>(begin_of(k)); };
    const auto out_at = [&](std::size_t k) { return d_first + static_cast<out_diff>(begin_of(k)); };
    const auto guarded = [&ctl](auto&& f) {
        if (ctl.stopped()) return;
        try {
            f();
        } catch (...) {
            ctl.fail(std::current_exception());
        }
    };
    std::mutex claims;
    std::size_t left = 1;        // blocks [left, right) are not taken yet; block 0 is the
    std::size_t right = blocks;  // left side's from the start. Guarded by `claims`.
    std::vector<std::optional<T>> sums(blocks);  // of the reduced blocks; then their offsets
    std::optional<T> acc = std::move(init);       // the left side's carry
    {
        task_group g{ex};
        const auto reduce_from_right = [&] {
            for (;;) {
                std::size_t k = 0;
                {
                    const std::lock_guard lock{claims};
                    if (left == right || ctl.stopped()) return;
                    k = --right;
                }
                guarded([&] { sums[k].emplace(reduce_block<T>(in_at(k), in_at(k + 1), op)); });
            }
        };
        for (std::size_t w = 1; w < ex.worker_count(); ++w) g.run(reduce_from_right);
        for (std::size_t k = 0;;) {  // block 0 first, then what it claims
            guarded([&] {
                const It b = in_at(k);
                if (acc) {
                    acc = scan_block<Inclusive>(b, in_at(k + 1), out_at(k), std::move(*acc), op);
                } else {
                    *out_at(k) = *b;
                    acc = scan_block<true>(b + 1, in_at(k + 1), out_at(k) + 1, T(*b), op);
                }
            });
            const std::lock_guard lock{claims};
            if (left == right || ctl.stopped()) break;
            k = left++;
        }
        g.wait();
    }
    if (ctl.stopped() || left == blocks) return;
    // Offsets: sums[k] becomes the carry into block k, for the blocks right of `left`.
    std::optional<T> carry = std::move(acc);
    for (std::size_t k = left; k < blocks; ++k) {
        std::optional<T> next;
        if (k + 1 < blocks) next.emplace(op(*carry, std::move(*sums[k])));
        sums[k] = std::move(carry);
        carry = std::move(next);
    }
    task_group g{ex};
    for (std::size_t k = left + 1; k < blocks; ++k) {
        g.run([&, k] {
            guarded([&] { scan_block<Inclusive>(in_at(k), in_at(k + 1), out_at(k), std::move(*sums[k]), op); });
        });
    }
    guarded([&] { scan_block<Inclusive>(in_at(left), in_at(left + 1), out_at(left), std::move(*sums[left]), op); });
    g.wait();
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
