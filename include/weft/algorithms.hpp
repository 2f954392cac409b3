// weft — parallel algorithms on the executor: parallel_for, parallel_reduce,
// parallel_transform_reduce, parallel_invoke. parallel_pipeline is in
// parallel_pipeline.hpp.
//
// Splitting is lazy (Tzannes et al., "Lazy Binary Splitting", PPoPP 2010): a loop runs
// its range chunk by chunk on the calling worker and splits off the right half of what
// is left only when its own deque is empty, i.e. when no queued work of its own is
// there for an idle worker to steal. Until the loop has run for k_serial_budget_ticks it does
// not split at all, and its chunks double meanwhile, so a short loop costs about the
// serial loop (no task, no wake-up, a few reads of the time-stamp counter). Called from
// one of the executor's workers an algorithm runs in place and waits by running only its
// own pieces (weft's waiting rule); from any other thread the caller runs that serial
// part itself (timed by the work done at its fastest pace, so that being preempted does
// not count, in chunks that grow fourfold), then hands the rest to the executor as a
// task and blocks until it is done; a loop nearly done when the budget runs out is
// finished on the caller instead.
//
// Errors: the first exception a body throws stops the loop from handing out more chunks
// (chunks already running finish) and is rethrown by the call; later ones are dropped.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/executor.hpp>
#include <weft/task_group.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

/// The smallest piece of a loop that runs as one chunk (at least 1).
struct grain {
    std::size_t size = 1;
};

/// Asks a loop to split its range into one block per worker up front (no lazy splitting).
struct static_partition_t {
    explicit static_partition_t() = default;
};
inline constexpr static_partition_t static_partition{};

namespace detail {

/// How a loop is split, from the optional arguments of an algorithm.
struct loop_options {
    std::size_t m_grain = 0;  // 0: chosen from the range and the worker count
    bool m_static = false;
};

inline void apply_option(loop_options& o, grain g, const char* who) {
    if (g.size == 0) throw std::invalid_argument(std::string{who} + ": grain must be at least 1");
    o.m_grain = g.size;
}
inline void apply_option(loop_options& o, static_partition_t, const char*) { o.m_static = true; }

template <class... Options>
loop_options make_loop_options([[maybe_unused]] const char* who, Options... options) {
    loop_options o;
    (apply_option(o, options, who), ...);
    return o;
}

template <class T>
inline constexpr bool is_loop_option = std::is_same_v<T, grain> || std::is_same_v<T, static_partition_t>;

/// What the pieces of one algorithm call share: the first error, and the stop flag.
/// Thread-safe.
class loop_control {
public:
    loop_control() : m_start{cycle_clock()} {}

    bool stopped() const noexcept {
        return m_stop.load(std::memory_order_relaxed);  // relaxed: a hint; the error travels through the group's join
    }
    /// Records the first exception (later ones are dropped) and stops the loop.
    void fail(std::exception_ptr e) noexcept {
        // acq_rel: the first failure owns m_error; task_group::wait()'s join publishes it.
        if (!m_failed.exchange(true, std::memory_order_acq_rel)) m_error = std::move(e);  // acq_rel: pairs with the other failers' exchange; the group's join publishes m_error
        m_stop.store(true, std::memory_order_relaxed);  // relaxed: a hint, as in stopped()
    }
    /// Rethrows the first exception, if any. After the pieces have joined.
    void rethrow_if_failed() {
        if (m_error) std::rethrow_exception(m_error);
    }
    /// True once the call has run long enough that splitting pays. Until then a piece
    /// doubles its chunks, so a short loop reads the clock a few times at most.
    bool past_serial_budget() noexcept;
    /// From now on past_serial_budget() is true.
    void start_splitting() noexcept {
        m_parallel.store(true, std::memory_order_relaxed);  // relaxed: a hint
    }

    /// A cheap clock: the time-stamp counter on x86-64 (a few ns; no system call, which
    /// costs far more than a short loop on a VM), nanoseconds elsewhere.
    static std::uint64_t cycle_clock() noexcept {
#if defined(__x86_64__)
        return __builtin_ia32_rdtsc();
#else
        return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
    }

private:
    std::uint64_t m_start;
    std::atomic<bool> m_parallel{false};
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_failed{false};
    std::exception_ptr m_error;
};

/// A loop runs about this long on one thread before it starts splitting: 6000 ticks of
/// the time-stamp counter (2-3 us at the 2-3 GHz such counters run at), 3 us elsewhere.
inline constexpr std::uint64_t k_serial_budget_ticks = 6'000;

inline bool loop_control::past_serial_budget() noexcept {
    if (m_parallel.load(std::memory_order_relaxed)) return true;  // relaxed: a hint
    if (cycle_clock() - m_start < k_serial_budget_ticks) return false;
    start_splitting();
    return true;
}

/// True when the calling worker has no queued task of its own: an idle worker would
/// find nothing to steal from it, so a split is worth it.
inline bool own_deque_empty() noexcept {
    const worker* w = current_worker();
    return w == nullptr || w->m_deque.owner_size() <= 0;
}

/// Runs `job()` on a worker of `ex`: here if the calling thread is one, else as a task
/// the caller waits for. Rethrows what `job` throws.
template <class Job>
void run_on_executor(executor& ex, Job&& job) {
    if (ex.running_in_this_thread()) {
        job();
        return;
    }
    task_group g{ex};
    g.run([&job] { job(); });
    g.wait();
}

/// The chunk size for a range of `n` iterations: the grain asked for, else about 1/64
/// of an equal share per worker (so a lazily split loop has room to balance), at least 1
/// and at most 4096.
inline std::size_t chunk_for(std::size_t n, std::size_t workers, const loop_options& o) {
    if (o.m_grain != 0) return o.m_grain;
    return std::clamp<std::size_t>(n / (64 * std::max<std::size_t>(workers, 1)), 1, 4096);
}

/// Runs `piece(b, e)`; false (and the loop stopped with its exception) if it threw.
template <class Piece>
bool run_chunk(loop_control& ctl, Piece& piece, std::size_t b, std::size_t e) noexcept {
    try {
        piece(b, e);
        return true;
    } catch (...) {
        ctl.fail(std::current_exception());
        return false;
    }
}

/// A piece of a loop: `make()` gives each piece its own state `p`, on which `p(i, j)`
/// runs the indices [i, j) (in order, on one thread) and `p.finish(start)` is called
/// once the piece stops (a reduction keeps its partial result there).
///
/// lazy_piece runs [b, e) chunk by chunk and, while more than a chunk is left and the
/// worker's deque is empty (past the serial budget), hands the right half of what is
/// left to `g` as a new piece.
template <class Make>
void lazy_piece(task_group& g, loop_control& ctl, std::size_t b, std::size_t e, std::size_t chunk, Make& make) {
    auto piece = make();
    const std::size_t start = b;
    std::size_t len = chunk;  // doubles until the serial budget is spent
    while (b < e && !ctl.stopped()) {
        const std::size_t n = std::min(len, e - b);
        if (!run_chunk(ctl, piece, b, b + n)) break;
        b += n;
        if (!ctl.past_serial_budget()) {
            len = std::min(len * 2, chunk << 16);
            continue;
        }
        len = chunk;
        if (e - b > chunk && own_deque_empty()) {
            const std::size_t mid = b + (e - b) / 2;
            g.run([&g, &ctl, mid, e, chunk, &make] { lazy_piece(g, ctl, mid, e, chunk, make); });
            e = mid;
        }
    }
    piece.finish(start);
}

/// The first piece of a loop called from outside the executor, run on the calling
/// thread from index 0; returns where it stopped (n: the loop is done, or a body threw).
/// It stops once the work done so far, timed at the fastest pace any of its chunks ran,
/// fills the serial budget, unless what is left would take less than the budget at that
/// pace (a loop nearly done is not worth a hand-off and a wake-up). The fastest pace,
/// not the time that has passed: a thread preempted in the middle of a short loop (on a
/// busy machine) would otherwise hand the loop off, and wait for a worker to wake, for
/// nothing. A preemption falls inside one chunk's timing, so the pace is taken over at
/// least two chunks before a hand-off.
template <class Make>
std::size_t serial_prefix(loop_control& ctl, std::size_t n, std::size_t chunk, Make& make) {
    auto piece = make();
    std::size_t b = 0;
    std::size_t len = chunk;  // doubles: a few clock reads at most
    const auto budget = static_cast<double>(k_serial_budget_ticks);
    double pace = budget;  // the fewest ticks per index of any chunk so far
    int timed = 0;         // chunks timed: a hand-off needs two, so one preemption is never enough
    std::uint64_t before = loop_control::cycle_clock();
    while (b < n) {
        const std::size_t step = std::min(len, n - b);
        if (!run_chunk(ctl, piece, b, b + step)) {
            piece.finish(0);
            return n;
        }
        b += step;
        const std::uint64_t now = loop_control::cycle_clock();
        pace = std::min(pace, static_cast<double>(now - before) / static_cast<double>(step));
        ++timed;
        if (timed >= 2 && pace * static_cast<double>(b) >= budget && pace * static_cast<double>(n - b) >= budget) {
            ctl.start_splitting();
            break;
        }
        before = now;
        len = std::min(len * 4, chunk << 16);
    }
    piece.finish(0);
    return b;
}

/// A block of a static partition: its chunks in order, no splitting.
template <class Make>
void static_piece(loop_control& ctl, std::size_t b, std::size_t e, std::size_t chunk, Make& make) {
    auto piece = make();
    const std::size_t start = b;
    while (b < e && !ctl.stopped()) {
        const std::size_t n = std::min(chunk, e - b);
        if (!run_chunk(ctl, piece, b, b + n)) break;
        b += n;
    }
    piece.finish(start);
}

/// Runs the pieces of a loop over [0, n) on `ex`, split as `o` says. Rethrows the
/// first exception of a body.
template <class Make>
void run_loop(executor& ex, std::size_t n, const loop_options& o, Make& make) {
    if (n == 0) return;
    loop_control ctl;
    const std::size_t workers = ex.worker_count();
    const std::size_t chunk = chunk_for(n, workers, o);
    if (!o.m_static && !ex.running_in_this_thread()) {
        // From outside: the calling thread runs the loop itself until the serial budget
        // is spent (a short loop never pays for the hand-off to a worker), then hands
        // the rest to the executor and blocks until it is done.
        const std::size_t rest = serial_prefix(ctl, n, chunk, make);
        if (rest < n) {
            run_on_executor(ex, [&] {
                task_group g{ex};
                lazy_piece(g, ctl, rest, n, chunk, make);
                g.wait();
            });
        }
        ctl.rethrow_if_failed();
        return;
    }
    run_on_executor(ex, [&] {
        task_group g{ex};
        if (o.m_static) {
            const std::size_t blocks = std::max<std::size_t>(1, std::min(workers, (n + chunk - 1) / chunk));
            const std::size_t block = (n + blocks - 1) / blocks;
            for (std::size_t k = 1; k < blocks; ++k) {
                const std::size_t b = k * block;
                const std::size_t e = std::min(n, b + block);
                if (b < e) g.run([&ctl, b, e, chunk, &make] { static_piece(ctl, b, e, chunk, make); });
            }
            static_piece(ctl, 0, std::min(n, block), chunk, make);
        } else {
            lazy_piece(g, ctl, 0, n, chunk, make);
        }
        g.wait();
    });
    ctl.rethrow_if_failed();
}

/// A piece that only calls the body (parallel_for).
template <class Body>
struct for_piece {
    Body* m_body;
    void operator()(std::size_t b, std::size_t e) const { (*m_body)(b, e); }
    void finish(std::size_t) const noexcept {}
};

/// The number of indices in [first, last) for an integer range; throws for first > last.
template <std::integral Index>
std::size_t index_count(Index first, Index last, const char* who) {
    if (last < first) throw std::invalid_argument(std::string{who} + ": first > last");
    return static_cast<std::size_t>(static_cast<std::make_unsigned_t<Index>>(last - first));
}

}  // namespace detail

/// Calls `f(i)` for every i in [first, last) on `ex`, in parallel; returns when all have
/// run. Options: weft::grain{n}, weft::static_partition. Throws std::invalid_argument for
/// first > last or a grain of 0; an empty range does nothing. Thread-safe.
template <std::integral Index, class F, class... Options>
    requires(detail::is_loop_option<Options> && ...)
void parallel_for(executor& ex, Index first, Index last, F&& f, Options... options) {
    static_assert(std::is_invocable_v<F&, Index>, "weft::parallel_for: f must be callable as f(i)");
    const detail::loop_options o = detail::make_loop_options("weft::parallel_for", options...);
    const std::size_t n = detail::index_count(first, last, "weft::parallel_for");
    auto body = [&f, first](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) f(static_cast<Index>(first + static_cast<Index>(i)));
    };
    auto make = [&body] { return detail::for_piece<decltype(body)>{&body}; };
    detail::run_loop(ex, n, o, make);
}

/// Calls `f(*it)` for every iterator in [first, last) (random access) on `ex`, in parallel.
template <std::random_access_iterator It, class F, class... Options>
    requires(detail::is_loop_option<Options> && ...)
void parallel_for(executor& ex, It first, It last, F&& f, Options... options) {
    static_assert(std::is_invocable_v<F&, std::iter_reference_t<It>>,
                  "weft::parallel_for: f must be callable as f(*it)");
    const detail::loop_options o = detail::make_loop_options("weft::parallel_for", options...);
    if (last < first) throw std::invalid_argument("weft::parallel_for: first > last");
    const auto n = static_cast<std::size_t>(last - first);
    auto body = [&f, first](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) f(first[static_cast<std::iter_difference_t<It>>(i)]);
    };
    auto make = [&body] { return detail::for_piece<decltype(body)>{&body}; };
    detail::run_loop(ex, n, o, make);
}

namespace detail {

/// Partial results of a reduction, one per piece, folded in index order at the end (so
/// `combine` needs to be associative only). Thread-safe.
template <class T>
class ordered_partials {
public:
    void add(std::size_t start, T value) {
        const std::lock_guard lock{m_mutex};
        m_items.emplace_back(start, std::move(value));
    }
    /// The partials in index order (after every piece has finished).
    std::vector<std::pair<std::size_t, T>> take() {
        std::sort(m_items.begin(), m_items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        return std::move(m_items);
    }

private:
    std::mutex m_mutex;
    std::vector<std::pair<std::size_t, T>> m_items;
};

}  // namespace detail

/// Folds [first, last): each piece starts from a copy of `identity` and folds its
/// indices in order with `acc = fold(acc, i)`; the pieces' results are combined left to
/// right with `combine(a, b)` (associative; need not be commutative). Returns identity
/// for an empty range.
template <std::integral Index, class T, class Fold, class Combine, class... Options>
    requires(detail::is_loop_option<Options> && ...)
T parallel_reduce(executor& ex, Index first, Index last, T identity, Fold fold, Combine combine, Options... options) {
    static_assert(std::is_invocable_r_v<T, Fold&, T, Index>, "weft::parallel_reduce: fold must be callable as fold(acc, i) -> T");
    static_assert(std::is_invocable_r_v<T, Combine&, T, T>, "weft::parallel_reduce: combine must be callable as combine(a, b) -> T");
    const detail::loop_options o = detail::make_loop_options("weft::parallel_reduce", options...);
    const std::size_t n = detail::index_count(first, last, "weft::parallel_reduce");
    if (n == 0) return identity;
    // Each piece folds its indices into its own copy of identity; the partials are
    // combined in index order.
    detail::ordered_partials<T> partials;
    struct piece {
        const T* m_identity;
        Fold* m_fold;
        Index m_first;
        detail::ordered_partials<T>* m_partials;
        std::optional<T> m_acc;
        void operator()(std::size_t b, std::size_t e) {
            if (!m_acc) m_acc.emplace(*m_identity);
            for (std::size_t i = b; i < e; ++i)
                *m_acc = (*m_fold)(std::move(*m_acc), static_cast<Index>(m_first + static_cast<Index>(i)));
        }
        void finish(std::size_t start) {
            if (m_acc) m_partials->add(start, std::move(*m_acc));
        }
    };
    auto make = [&] { return piece{&identity, &fold, first, &partials, std::nullopt}; };
    detail::run_loop(ex, n, o, make);
    auto items = partials.take();
    if (items.empty()) return identity;  // unreachable: a non-empty range has a piece
    T result = std::move(items.front().second);
    for (std::size_t k = 1; k < items.size(); ++k) result = combine(std::move(result), std::move(items[k].second));
    return result;
}

/// std::transform_reduce's order: reduce(init, transform(x) for x in [first, last)),
/// with `reduce` associative and commutative (pieces fold in index order, so
/// commutativity is not relied on, but std's contract asks for it). Returns init for an
/// empty range.
template <std::random_access_iterator It, class T, class Reduce, class Transform, class... Options>
    requires(detail::is_loop_option<Options> && ...)
T parallel_transform_reduce(executor& ex, It first, It last, T init, Reduce reduce, Transform transform,
                            Options... options) {
    static_assert(std::is_invocable_v<Transform&, std::iter_reference_t<It>>,
                  "weft::parallel_transform_reduce: transform must be callable as transform(*it)");
    const detail::loop_options o = detail::make_loop_options("weft::parallel_transform_reduce", options...);
    if (last < first) throw std::invalid_argument("weft::parallel_transform_reduce: first > last");
    const auto n = static_cast<std::size_t>(last - first);
    if (n == 0) return init;
    detail::ordered_partials<T> partials;
    struct piece {
        It m_first;
        Reduce* m_reduce;
        Transform* m_transform;
        detail::ordered_partials<T>* m_partials;
        std::optional<T> m_acc;
        void operator()(std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                auto&& x = m_first[static_cast<std::iter_difference_t<It>>(i)];
                if (m_acc)
                    *m_acc = (*m_reduce)(std::move(*m_acc), (*m_transform)(x));
                else
                    m_acc.emplace((*m_transform)(x));
            }
        }
        void finish(std::size_t start) {
            if (m_acc) m_partials->add(start, std::move(*m_acc));
        }
    };
    auto make = [&] { return piece{first, &reduce, &transform, &partials, std::nullopt}; };
    detail::run_loop(ex, n, o, make);
    T result = std::move(init);
    for (auto& item : partials.take()) result = reduce(std::move(result), std::move(item.second));
    return result;
}

/// Runs every `f()` of `fs`, in parallel on `ex`, and returns when all have finished;
/// rethrows the first exception (the others are dropped).
template <class... Fs>
void parallel_invoke(executor& ex, Fs&&... fs) {
    static_assert(sizeof...(Fs) > 0, "weft::parallel_invoke: nothing to invoke");
    static_assert((std::is_invocable_v<Fs&> && ...), "weft::parallel_invoke: each f must be callable as f()");
    detail::loop_control ctl;
    std::tuple<Fs&...> calls{fs...};
    auto guarded = [&ctl](auto& f) {
        try {
            f();
        } catch (...) {
            ctl.fail(std::current_exception());
        }
    };
    detail::run_on_executor(ex, [&] {
        task_group g{ex};
        // All but the last as tasks, the last one here; then wait for the others.
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            ((I + 1 < sizeof...(Fs) ? g.run([&] { guarded(std::get<I>(calls)); }) : guarded(std::get<I>(calls))), ...);
        }(std::index_sequence_for<Fs...>{});
        g.wait();
    });
    ctl.rethrow_if_failed();
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
