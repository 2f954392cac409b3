// weft — futures, promises, continuations and async.
//
// A weft::future<T> is a cheap copyable handle to one shared state (like Python's
// Future, compared by identity). get() may be called any number of times. A wait runs
// only what it awaits: an untimed wait runs the awaited async task itself if nobody has
// started it (on a worker of its executor; on a pool thread, a still-queued item of that
// pool), a timed wait runs nothing; otherwise the waiter blocks, and a blocked worker's
// executor keeps its parallelism with a spare worker. See docs/api/futures.md for where
// continuations run and how errors and cancellation flow.
#pragma once

#include <weft/detail/future_continuations.hpp>
#include <weft/detail/shared_state.hpp>
#include <weft/errors.hpp>
#include <weft/executor.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {

/// A handle to the eventual result of an asynchronous operation.
///
/// Thread safety: thread-safe; copies share one state and may be used from any threads.
template <class T>
class future {
    static_assert(!std::is_reference_v<T>, "weft::future<T>: T must not be a reference");
    static_assert(!std::is_array_v<T>, "weft::future<T>: T must not be an array");

public:
    using value_type = T;
    /// What get() returns: `const T&`, or void.
    using get_type = typename detail::get_result<T>::type;

    /// An empty future: valid() is false and every operation but valid() throws
    /// invalid_state_error.
    future() noexcept = default;

    /// True if this handle refers to a state.
    bool valid() const noexcept { return static_cast<bool>(m_state); }

    /// True once finished (with a value or an exception) or cancelled.
    bool done() const { return state().is_done(); }
    /// True while the work runs (Python's Future.running()).
    bool running() const { return state().phase() == detail::future_phase::running; }
    /// True once cancelled.
    bool cancelled() const { return state().is_cancelled(); }
    /// Cancels the future if it has not started: true if it is now cancelled (also when
    /// it already was), false if it is running or done. Wakes waiters, then runs the
    /// done-callbacks and continuations on the calling thread.
    bool cancel() const { return state().cancel(); }

    /// Waits until done, then returns the value or rethrows the stored exception (the
    /// same exception_ptr each time); cancelled_error if cancelled.
    get_type get() const {
        detail::shared_state<T>& s = state();
        s.wait();
        s.rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) return s.value();
    }

    /// Waits until done: runs the awaited task itself if nobody has started it and this
    /// thread may (see the file comment), otherwise blocks.
    void wait() const { state().wait(); }

    /// Waits at most `timeout` (zero or negative: just checks; duration::max(): forever,
    /// as wait()). A finite timeout runs no task: it blocks until done or timed out.
    template <class Rep, class Period>
    std::future_status wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
        return state().wait_for(detail::saturating_ns(timeout)) ? std::future_status::ready
                                                                 : std::future_status::timeout;
    }

    /// Waits until `deadline` on its own clock (measured as the time left when called).
    template <class Clock, class Duration>
    std::future_status wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
        const auto now = Clock::now();
        // Compared first: `deadline - now` overflows for a deadline near time_point::min().
        if (deadline <= now) return wait_for(std::chrono::nanoseconds::zero());
        return wait_for(deadline - now);
    }

    // Python's names (concurrent.futures.Future).

    /// get(), under Python's name.
    get_type result() const { return get(); }
    /// As result(), but throws timeout_error if not done within `timeout`.
    template <class Rep, class Period>
    get_type result(const std::chrono::duration<Rep, Period>& timeout) const {
        detail::shared_state<T>& s = state();
        if (!s.wait_for(detail::saturating_ns(timeout))) throw timeout_error{};
        s.rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) return s.value();
    }
    /// Waits, then returns the stored exception (null on success). Throws cancelled_error
    /// if cancelled.
    std::exception_ptr exception() const {
        detail::shared_state<T>& s = state();
        s.wait();
        return checked_error(s);
    }
    /// As exception(), but throws timeout_error if not done within `timeout`.
    template <class Rep, class Period>
    std::exception_ptr exception(const std::chrono::duration<Rep, Period>& timeout) const {
        detail::shared_state<T>& s = state();
        if (!s.wait_for(detail::saturating_ns(timeout))) throw timeout_error{};
        return checked_error(s);
    }

    /// Calls `cb(future)` once done: on the completing (or cancelling) thread, in the
    /// order added; at once on this thread if already done. An exception from `cb` is
    /// reported to the executor's handler (or stderr) and ignored.
    template <class F>
    void add_done_callback(F&& cb) const;

    /// Runs `f(value)` (or `f()` for future<void>) as a new task once this future has a
    /// value, on the executor that completes it (see docs/api/futures.md); returns the
    /// future of its result, unwrapping a returned future<U> to future<U>. An exception
    /// or cancellation passes downstream without calling `f`. On an rvalue
    /// (`std::move(f).then(...)`) the handle's reference is handed on instead of copied.
    template <class F>
    auto then(F&& f) const& {
        return attach<detail::then_mode::value, false>(nullptr, state_ref(), std::forward<F>(f));
    }
    template <class F>
    auto then(F&& f) && {
        return attach<detail::then_mode::value, false>(nullptr, state_move(), std::forward<F>(f));
    }
    /// As then(f), on executor `ex`.
    template <class F>
    auto then(executor& ex, F&& f) const& {
        return attach<detail::then_mode::value, false>(&ex.scheduler_ref(), state_ref(), std::forward<F>(f));
    }
    template <class F>
    auto then(executor& ex, F&& f) && {
        return attach<detail::then_mode::value, false>(&ex.scheduler_ref(), state_move(), std::forward<F>(f));
    }
    /// As then(f), but runs `f` on the completing thread itself, at once. Nested deeper
    /// than detail::k_max_inline_depth, it runs on that thread right after the outermost
    /// inline continuation, so long chains keep a bounded stack.
    template <class F>
    auto then_inline(F&& f) const& {
        return attach<detail::then_mode::value, true>(nullptr, state_ref(), std::forward<F>(f));
    }
    template <class F>
    auto then_inline(F&& f) && {
        return attach<detail::then_mode::value, true>(nullptr, state_move(), std::forward<F>(f));
    }
    /// Runs `f(future)` once this future is done in any way (value, exception or
    /// cancellation), so `f` can inspect errors; returns the future of its result.
    template <class F>
    auto continue_with(F&& f) const& {
        return attach<detail::then_mode::whole_future, false>(nullptr, state_ref(), std::forward<F>(f));
    }
    template <class F>
    auto continue_with(F&& f) && {
        return attach<detail::then_mode::whole_future, false>(nullptr, state_move(), std::forward<F>(f));
    }
    /// As continue_with(f), on executor `ex`.
    template <class F>
    auto continue_with(executor& ex, F&& f) const& {
        return attach<detail::then_mode::whole_future, false>(&ex.scheduler_ref(), state_ref(),
                                                              std::forward<F>(f));
    }
    template <class F>
    auto continue_with(executor& ex, F&& f) && {
        return attach<detail::then_mode::whole_future, false>(&ex.scheduler_ref(), state_move(),
                                                              std::forward<F>(f));
    }

    /// Identity: two handles are equal if they share a state.
    friend bool operator==(const future& a, const future& b) noexcept {
        return a.m_state.get() == b.m_state.get();
    }

private:
    friend struct detail::future_access;
    explicit future(detail::state_ptr<detail::shared_state<T>> s) noexcept : m_state{std::move(s)} {}

    detail::shared_state<T>& state() const {
        if (!m_state) throw invalid_state_error("weft::future: no state (default-constructed or moved-from)");
        return *m_state;
    }
    detail::state_ptr<detail::shared_state<T>> state_ref() const {
        state();  // throws on an empty future
        return m_state;
    }
    detail::state_ptr<detail::shared_state<T>> state_move() {
        state();
        return std::move(m_state);
    }
    static std::exception_ptr checked_error(const detail::shared_state<T>& s) {
        if (s.is_cancelled()) throw cancelled_error{};
        return s.error();
    }

    template <detail::then_mode Mode, bool Inline, class F>
    static auto attach(detail::scheduler* sched, detail::state_ptr<detail::shared_state<T>> input, F&& f);

    detail::state_ptr<detail::shared_state<T>> m_state;
};

/// The producing side of a future.
///
/// Thread safety: the setters are thread-safe (exactly one of them succeeds); a promise
/// object itself is used by one thread at a time. Destroying an unsatisfied promise
/// stores broken_promise.
template <class T>
class promise {
public:
    /// A promise whose then() continuations run on the completing worker (or inline).
    promise() : m_state{new detail::shared_state<T>()} {}
    /// A promise whose then() continuations run on `ex`.
    explicit promise(executor& ex) : m_state{new detail::shared_state<T>(&ex.scheduler_ref())} {}
    promise(promise&&) noexcept = default;
    promise& operator=(promise&& o) noexcept {
        if (this != &o) {
            abandon();
            m_state = std::move(o.m_state);
        }
        return *this;
    }
    promise(const promise&) = delete;
    promise& operator=(const promise&) = delete;
    ~promise() { abandon(); }

    /// A handle to the state; may be called any number of times.
    future<T> get_future() const { return detail::future_access::make<T>(checked()); }

    /// Python's set_running_or_notify_cancel(): true if pending -> running, false if the
    /// future was cancelled; invalid_state_error("Future in unexpected state") otherwise.
    bool set_running_or_notify_cancel() { return checked()->start(); }

    /// Stores the value made from `args`; invalid_state_error if already done or cancelled.
    template <class... Args>
    void set_value(Args&&... args) {
        if constexpr (std::is_void_v<T>) {
            static_assert(sizeof...(Args) == 0, "weft::promise<void>::set_value takes no value");
        } else {
            static_assert(std::is_constructible_v<T, Args&&...>,
                          "weft::promise<T>::set_value: T cannot be made from these arguments");
        }
        if (!checked()->try_set_value(std::forward<Args>(args)...)) refuse("set_value");
    }

    /// Stores exception `e` (not null); invalid_state_error if already done or cancelled.
    void set_exception(std::exception_ptr e) {
        if (e == nullptr) throw std::invalid_argument("weft::promise::set_exception: null exception_ptr");
        if (!checked()->try_fail(std::move(e))) refuse("set_exception");
    }

private:
    const detail::state_ptr<detail::shared_state<T>>& checked() const {
        if (!m_state) throw invalid_state_error("weft::promise: no state (moved-from)");
        return m_state;
    }
    [[noreturn]] void refuse(const char* what) const {
        throw invalid_state_error(std::string{"weft::promise::"} + what + ": the future is already " +
                                  (m_state->is_cancelled() ? "cancelled" : "done"));
    }
    void abandon() noexcept {
        if (m_state && !m_state->is_done())
            m_state->try_fail(std::make_exception_ptr(broken_promise{}));
    }

    detail::state_ptr<detail::shared_state<T>> m_state;
};

/// A future that already holds `value`.
template <class T>
future<std::decay_t<T>> make_ready_future(T&& value) {
    auto* s = new detail::shared_state<std::decay_t<T>>();
    s->try_set_value(std::forward<T>(value));
    return detail::future_access::make<std::decay_t<T>>(detail::state_ptr{s});
}
/// A future<void> that is already done.
inline future<void> make_ready_future() {
    auto* s = new detail::shared_state<void>();
    s->try_set_value();
    return detail::future_access::make<void>(detail::state_ptr{s});
}
/// A future that already holds exception `e`.
template <class T>
future<T> make_exceptional_future(std::exception_ptr e) {
    if (e == nullptr) throw std::invalid_argument("weft::make_exceptional_future: null exception_ptr");
    auto* s = new detail::shared_state<T>();
    s->try_fail(std::move(e));
    return detail::future_access::make<T>(detail::state_ptr{s});
}

/// Runs `f(args...)` as a task on `ex` and returns the future of its result. The
/// arguments are decayed copies (as for std::async); the state and the task are one
/// pooled allocation. On one of `ex`'s workers whose deque is already deep, `f` runs at
/// once, inside async() (as task_group::run does): `f` must not wait for something its
/// caller does only after async() returns. Throws std::invalid_argument for an empty
/// callable and executor_shutdown_error once `ex` no longer accepts work. Thread-safe.
template <class F, class... Args>
auto async(executor& ex, F&& f, Args&&... args) {
    using fn_type = std::decay_t<F>;
    static_assert(std::is_invocable_v<fn_type, std::decay_t<Args>...>,
                  "weft::async: f cannot be called with these arguments");
    using result_type = std::invoke_result_t<fn_type, std::decay_t<Args>...>;
    if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::async: empty callable");
    detail::scheduler& sched = ex.scheduler_ref();
    if (detail::worker* w = sched.local_worker(detail::this_context());
        w != nullptr && sched.should_run_inline(*w)) {
        // The worker already has plenty of queued work for idle workers to steal: run
        // f now (as task_group::run does) and return a future born done.
        return detail::future_access::make<result_type>(
            detail::state_ptr<detail::shared_state<result_type>>{detail::invoke_to_ready_state<result_type>(
                &sched, fn_type(std::forward<F>(f)), std::decay_t<Args>(std::forward<Args>(args))...)});
    }
    using state_type = detail::async_state<result_type, fn_type, std::decay_t<Args>...>;
    auto* s = new state_type(&sched, std::forward<F>(f), std::forward<Args>(args)...);
    try {
        detail::schedule_task(sched, s);
    } catch (...) {
        delete s;  // never queued: we hold both references
        throw;
    }
    return detail::future_access::make<result_type>(detail::state_ptr<detail::shared_state<result_type>>{s});
}

template <class T>
template <class F>
void future<T>::add_done_callback(F&& cb) const {
    using fn_type = std::decay_t<F>;
    static_assert(std::is_invocable_v<fn_type&, const future<T>&>,
                  "weft::future::add_done_callback: cb must be callable as cb(const future<T>&)");
    if (detail::is_empty_callable(cb))
        throw std::invalid_argument("weft::future::add_done_callback: empty callable");
    detail::shared_state<T>& s = state();
    s.add_continuation(new detail::callback_node<T, fn_type>(std::forward<F>(cb)));
}

template <class T>
template <detail::then_mode Mode, bool Inline, class F>
auto future<T>::attach(detail::scheduler* sched, detail::state_ptr<detail::shared_state<T>> input, F&& f) {
    using fn_type = std::decay_t<F>;
    using raw = typename detail::continuation_result<T, fn_type, Mode>::type;
    using out = typename detail::unwrap_future<raw>::type;
    using state_type = detail::then_state<out, T, fn_type, Mode, Inline>;
    if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::future::then: empty callable");
    detail::shared_state<T>& up = *input;
    // Two references: the returned future's, and the work's (dropped once it has run).
    auto* s = new state_type(sched, std::move(input), std::forward<F>(f));
    detail::state_ptr<detail::shared_state<out>> result{s};
    up.add_continuation(s);
    return detail::future_access::make<out>(std::move(result));
}

}  // namespace weft

template <class T>
struct std::hash<weft::future<T>> {
    std::size_t operator()(const weft::future<T>& f) const noexcept {
        return std::hash<const void*>{}(weft::detail::future_access::identity(f));
    }
};
