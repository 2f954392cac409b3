// weft — thread_pool_executor: the C++ counterpart of Python's
// concurrent.futures.ThreadPoolExecutor (docs/api/thread_pool_executor.md; the
// behaviours B1..B58 are spec/python_parity.md's).
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/detail/pool_map.hpp>
#include <weft/detail/pool_task.hpp>
#include <weft/detail/thread_pool_core.hpp>
#include <weft/errors.hpp>
#include <weft/future.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace weft {

/// Construction options; an aggregate, usable default-constructed.
struct thread_pool_options {
    /// Most threads the pool starts. Unset: min(32, CPUs in the affinity mask + 4).
    /// Set to <= 0: std::invalid_argument, as Python's max_workers=0.
    std::optional<int> max_workers{};
    /// Threads are named `<prefix>_<i>`; empty: `ThreadPoolExecutor-<k>`.
    std::string thread_name_prefix{};
    /// Runs once on each thread before its first task; empty: none. If it throws, the
    /// pool is broken (broken_thread_pool). Bind Python's initargs into the callable.
    std::function<void()> initializer{};
};

namespace detail {
template <class I>
concept count_integer = std::integral<I> && !std::same_as<I, bool> && !std::same_as<I, char> &&
                        !std::same_as<I, wchar_t> && !std::same_as<I, char8_t> && !std::same_as<I, char16_t> &&
                        !std::same_as<I, char32_t>;
}  // namespace detail

/// A number of items, made implicitly from any integer type (not bool or a character
/// type), never from a floating-point value: `map_options{.buffersize = 2.0}` does not
/// compile (Python: TypeError). Values beyond std::ptrdiff_t saturate. Thread-safe (a value).
class item_count {
public:
    template <detail::count_integer I>
    constexpr item_count(I n) noexcept  // NOLINT(google-explicit-constructor): `.buffersize = 8`
        : m_value{std::in_range<std::ptrdiff_t>(n) ? static_cast<std::ptrdiff_t>(n)
                  : n > 0                          ? std::numeric_limits<std::ptrdiff_t>::max()
                                                   : std::numeric_limits<std::ptrdiff_t>::min()} {}
// g++ 12 with sanitizers warns that the value of an optional<item_count> or
// optional<timeout_duration> "may be used uninitialized" where map() reads it after
// checking that it is set (a false positive, inlined at these accessors).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    /// The count.
    constexpr std::ptrdiff_t value() const noexcept { return m_value; }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

private:
    std::ptrdiff_t m_value;
};

/// A timeout made implicitly from any std::chrono::duration (integral or floating-point
/// ticks), held as nanoseconds, saturating: <= 0 is "now" (zero), too long for
/// nanoseconds (hours::max()) is nanoseconds::max(), which means no limit. Thread-safe (a value).
class timeout_duration {
public:
    template <class Rep, class Period>
    timeout_duration(const std::chrono::duration<Rep, Period>& d)  // NOLINT(google-explicit-constructor): `.timeout = 1.5s`
        : m_ns{detail::saturating_ns(d)} {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // as item_count::value()
#endif
    /// The timeout in nanoseconds, >= 0; nanoseconds::max(): no limit.
    std::chrono::nanoseconds ns() const noexcept { return m_ns; }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

private:
    std::chrono::nanoseconds m_ns;
};

/// Options of thread_pool_executor::map; an aggregate.
struct map_options {
    /// Time for all results, counted from the map() call; unset: no limit. Any duration
    /// (`2s`, `1.5s`, `hours::max()`); <= 0: results not done at the call time out.
    std::optional<timeout_duration> timeout{};
    /// At most this many calls submitted ahead of the consumer; unset: all at once.
    /// An integer; < 1: std::invalid_argument.
    std::optional<item_count> buffersize{};
};

namespace detail {
template <class F, class... Rs>
struct map_result {
    using type = void;  // no inputs: the range is empty and fn is never called
};
template <class F, class R0, class... Rs>
struct map_result<F, R0, Rs...> {
    using type = pool_result_t<F, element_reference_t<R0>, element_reference_t<Rs>...>;
};
}  // namespace detail

/// A pool of up to max_workers threads that runs submitted calls in FIFO start order,
/// one call per thread at a time, with Python's submit/map/shutdown semantics.
///
/// Thread safety: thread-safe; submit(), post(), map() and shutdown() may be called from
/// any thread, including the pool's own tasks. Not movable (futures and threads refer to
/// it). In a child made by fork() the pool is shut down (docs/api/thread_pool_executor.md).
class thread_pool_executor {
public:
    /// max_workers = min(32, CPUs + 4); no thread starts before the first submit.
    thread_pool_executor();
    /// Any max_workers > 0 (threads start lazily: nothing is reserved per slot). Throws
    /// std::invalid_argument("weft::thread_pool_executor: max_workers must be greater
    /// than 0") if <= 0.
    explicit thread_pool_executor(int max_workers);
    /// See thread_pool_options.
    explicit thread_pool_executor(const thread_pool_options& options);
    /// shutdown(true). Destroying the pool from one of its own threads is a programming
    /// error: reported on stderr, then std::terminate.
    ~thread_pool_executor();

    thread_pool_executor(const thread_pool_executor&) = delete;
    thread_pool_executor& operator=(const thread_pool_executor&) = delete;

    /// Schedules `std::invoke(std::move(f), std::move(args)...)` on decayed copies of
    /// `f` and `args` and returns its future (a reference result is stored as a value).
    /// The copies are destroyed as soon as the call returns or throws (before its result
    /// is published), or when the pool cancels the call. Throws std::invalid_argument
    /// for an empty callable, broken_thread_pool on a broken pool, and
    /// executor_shutdown_error("weft::thread_pool_executor::submit: cannot schedule new
    /// futures after shutdown") after shutdown() (other tails: process exit began, a
    /// forked child).
    template <class F, class... Args>
    [[nodiscard]] auto submit(F&& f, Args&&... args) {
        return detail::pool_submit(*m_core, std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// Fire-and-forget: schedules `std::invoke(std::move(f))` on a decayed copy of `f`,
    /// with no future (cheaper than submit). An exception escaping the call is reported
    /// on stderr ("weft: thread_pool_executor: exception in a posted call: <what>") and
    /// ignored. Queued in the same FIFO as submit(); shutdown(cancel_futures=true) drops
    /// it unrun. Throws as submit() does (std::invalid_argument for an empty callable).
    template <class F>
    void post(F&& f) {
        detail::pool_post(*m_core, std::forward<F>(f));
    }

    /// Python's map(fn, *iterables): calls fn on the zipped inputs (shortest wins) and
    /// returns a lazy input range (a move-only view) of the results in input order
    /// (std::monostate for a void fn). Every call is submitted now; iterating waits for
    /// each result in turn and rethrows a failed call's exception when it is reached,
    /// cancelling the calls not yet started. Dropping the range once its iteration began
    /// cancels what is outstanding; a range never iterated lets every call run. Rvalue
    /// inputs are kept alive by the range; lvalue inputs must outlive it when buffersize
    /// is set.
    template <class F, detail::iterable... Rs>
        requires(!std::same_as<std::remove_cvref_t<F>, map_options>)
    auto map(F&& fn, Rs&&... inputs) {
        return map(map_options{}, std::forward<F>(fn), std::forward<Rs>(inputs)...);
    }
    /// As map(fn, inputs...), with a timeout (timeout_error once it runs out) and/or a
    /// buffer size (at most that many calls ahead; each advance submits one more).
    /// buffersize < 1: std::invalid_argument("weft::thread_pool_executor::map: ...").
    template <class F, detail::iterable... Rs>
    auto map(const map_options& options, F&& fn, Rs&&... inputs) {
        using result_type = typename detail::map_result<F, Rs...>::type;
        std::optional<std::chrono::nanoseconds> timeout;
        if (options.timeout) timeout = options.timeout->ns();
        std::optional<std::ptrdiff_t> buffersize;
        if (options.buffersize) buffersize = options.buffersize->value();
        return detail::make_map_range<result_type>(m_core, timeout, buffersize, std::forward<F>(fn),
                                                   std::forward<Rs>(inputs)...);
    }

    /// Stops accepting work. `cancel_futures`: cancels every call not yet started (their
    /// futures are cancelled when this returns). `wait`: returns once all started and
    /// queued calls finished and every thread is joined. Idempotent. From one of the
    /// pool's own threads, wait=true throws std::runtime_error("weft::thread_pool_executor::
    /// shutdown: cannot join current thread") after the pool is stopped.
    void shutdown(bool wait = true, bool cancel_futures = false);

    /// The maximum number of threads.
    int max_workers() const noexcept;
    /// Threads started so far (they are started lazily and live until shutdown).
    std::size_t thread_count() const noexcept;
    /// The prefix of the threads' names.
    const std::string& thread_name_prefix() const noexcept;
    /// True once shutdown() was called (or the process-exit hook ran).
    bool is_shut_down() const noexcept;
    /// True once a thread initializer failed.
    bool is_broken() const noexcept;
    /// True if the calling thread is one of this pool's threads.
    bool running_in_this_thread() const noexcept;

    /// The calling thread's full name (`<prefix>_<i>`, not truncated to Linux's 15
    /// characters) if it is a thread_pool_executor thread; "" otherwise. Thread-safe.
    static std::string_view current_thread_name() noexcept;

    /// Not API: the id futures name this pool by (detail/task_sink.hpp).
    std::uint64_t sink_id() const noexcept;

private:
    std::shared_ptr<detail::thread_pool_core> m_core;
};

/// weft::async on a pool: the same as pool.submit(f, args...) (a future the pool's
/// shutdown(cancel_futures=true) cancels, and Python's waiting rules). Thread-safe.
template <class F, class... Args>
[[nodiscard]] auto async(thread_pool_executor& pool, F&& f, Args&&... args) {
    return pool.submit(std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
