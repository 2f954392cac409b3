// weft — the work-stealing executor.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/detail/scheduler.hpp>
#include <weft/errors.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

/// A number of threads, made from any integer type without a narrowing error (so
/// `.workers = n` compiles for an int, an unsigned or a std::size_t `n`); a negative or
/// too large value is rejected with std::invalid_argument where it is used.
class thread_count {
public:
    constexpr thread_count() noexcept = default;
    template <std::integral I>
        requires(!std::same_as<I, bool>)
    constexpr thread_count(I n) noexcept  // NOLINT(google-explicit-constructor): implicit by design
        : m_value{n < 0 ? -1
                        : (std::cmp_greater(n, k_max) ? k_max + 1 : static_cast<std::int64_t>(n))} {}
    /// The count; -1 for a negative one, k_max + 1 for one beyond k_max.
    constexpr std::int64_t value() const noexcept { return m_value; }
    friend constexpr bool operator==(thread_count, thread_count) noexcept = default;

    /// The largest count accepted.
    static constexpr std::int64_t k_max = 1 << 20;

private:
    std::int64_t m_value = 0;
};

/// Construction options; an aggregate, usable default-constructed.
struct executor_options {
    /// Number of worker threads; 0 means std::thread::hardware_concurrency().
    /// Negative: std::invalid_argument.
    thread_count workers = 0;
    /// Worker threads are named `<prefix>_<i>` (truncated to the 15 characters Linux keeps).
    std::string thread_name_prefix = "weft";
    /// Called with an exception that escaped a posted task and the worker's name.
    /// Empty: print one line on stderr and keep running.
    std::function<void(std::exception_ptr, std::string_view)> unhandled_exception_handler{};
    /// Stack size of each worker thread in bytes; 0 means the system's default (8 MiB
    /// on Linux). Each nested wait costs stack (docs/design/scheduler.md, "Stack").
    std::size_t stack_size = 0;
    /// Spare workers that may run at once while workers are blocked in waits (so that
    /// `workers` threads stay runnable). At the cap, a waiter blocks without a spare.
    thread_count max_spare_workers = 256;
};

/// Counters of one worker, as returned by executor::stats().
struct worker_stats {
    std::size_t index = 0;
    std::uint64_t executed = 0;        // tasks run
    std::uint64_t stolen = 0;          // tasks taken from another worker's deque
    std::uint64_t steal_attempts = 0;  // steal() calls on other workers' deques
    std::uint64_t parks = 0;           // times the worker went to sleep
    std::uint64_t injected = 0;        // tasks taken from the injection queue
    std::uint64_t blocked = 0;         // waits (and this_worker::blocking calls) that blocked
    std::uint64_t spares_started = 0;  // spare workers started when this worker blocked
    bool spare = false;                // a spare worker (index >= worker_count())
};

/// A pool of worker threads with per-worker work-stealing deques.
///
/// Thread safety: thread-safe; post() may be called from any thread, including the
/// executor's own tasks. The destructor runs every task already queued (and the tasks
/// those spawn), then joins the workers.
class executor {
public:
    /// Starts hardware_concurrency() workers.
    executor();
    /// Starts `options.workers` workers (hardware_concurrency() if 0). Throws
    /// std::invalid_argument for a negative or absurd worker or spare count.
    explicit executor(const executor_options& options);
    /// Starts `workers` workers (hardware_concurrency() if 0): `weft::executor ex{4};`.
    explicit executor(thread_count workers) : executor(executor_options{.workers = workers}) {}
    /// Drains and joins; see shutdown(). Calling it from one of the executor's own
    /// workers is a programming error: it is reported on stderr and terminates.
    ~executor();

    executor(const executor&) = delete;
    executor& operator=(const executor&) = delete;

    /// Runs `f()` on a worker, fire-and-forget. From one of this executor's workers the
    /// task goes to that worker's deque; from elsewhere, to the injection queue.
    /// Throws std::invalid_argument for an empty callable, executor_shutdown_error after
    /// shutdown() began (except from this executor's own workers, whose spawns are part
    /// of the drain). An exception escaping `f` goes to the unhandled-exception handler.
    template <class F>
    void post(F&& f);

    /// Stops accepting outside work, runs everything already queued (and what it spawns),
    /// joins the workers. Idempotent. Throws std::logic_error from one of its own workers.
    void shutdown();

    /// True once shutdown() has begun.
    bool is_shut_down() const noexcept { return m_sched->is_shut_down(); }

    /// Number of worker threads (the parallelism; spares are not counted).
    std::size_t worker_count() const noexcept { return m_sched->worker_count(); }

    /// Worker threads alive now, spares included.
    std::size_t live_thread_count() const noexcept { return m_sched->live_threads(); }

    /// Times a blocked worker found max_spare_workers spares already running.
    std::uint64_t spare_cap_hits() const noexcept { return m_sched->spare_cap_hits(); }

    /// A snapshot of every worker's counters (approximate while tasks run); spare
    /// workers follow the workers, with index >= worker_count().
    std::vector<worker_stats> stats() const { return m_sched->stats(); }

    /// True if the calling thread is one of this executor's workers (executor_like).
    bool running_in_this_thread() const noexcept {
        return m_sched->local_worker(detail::this_context()) != nullptr;
    }

    /// Not API: the id futures name this executor by (detail/task_sink.hpp).
    std::uint64_t sink_id() const noexcept { return m_sched->id(); }
    /// Not API: the scheduler, for weft's own headers.
    detail::scheduler& scheduler_ref() noexcept { return *m_sched; }

private:
    std::unique_ptr<detail::scheduler> m_sched;
};

template <class F>
void executor::post(F&& f) {
    using fn_type = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<fn_type&>) {
        static_assert(std::is_invocable_v<fn_type&>, "weft::executor::post: f must be callable as f()");
    } else {
        if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::executor::post: empty callable");
        using body = detail::posted_body<fn_type>;
        detail::thread_context& ctx = detail::this_context();
        detail::scheduler& s = *m_sched;
        if (detail::worker* w = s.local_worker(ctx)) {
            s.spawn(*w, detail::make_task<body>(ctx, std::forward<F>(f)));
            return;
        }
        s.inject<body>(ctx, std::forward<F>(f));
    }
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
