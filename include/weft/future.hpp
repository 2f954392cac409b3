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

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/detail/future_continuations.hpp>
#include <weft/detail/shared_state.hpp>
#include <weft/errors.hpp>
#include <weft/executor.hpp>
#include <weft/this_worker.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {

/// An executor weft can run work on: `ex.post(f)` runs the `void()` callable `f` once,
/// fire-and-forget (it may copy `f`; if it destroys every copy without calling one, the
/// future weft made for the work fails with broken_promise), and
/// `ex.running_in_this_thread()` says whether the calling thread is one of its workers
/// (a wait on such a thread runs the awaited async task itself if nobody has started
/// it). weft::executor and weft::thread_pool_executor model it; so can a user type.
template <class E>
concept executor_like = requires(E& ex, const E& cex, detail::posted_call f) {
    ex.post(std::move(f));
    { cex.running_in_this_thread() } -> std::convertible_to<bool>;
};

namespace detail {
/// weft's own executors: continuations are routed to them by sink id (no allocation
/// per post, and a future can tell when its executor is gone).
template <class E>
concept sink_executor = executor_like<E> && requires(const E& ex) {
    { ex.sink_id() } -> std::same_as<std::uint64_t>;
};
}  // namespace detail

/// A handle to the eventual result of an asynchronous operation.
///
/// Thread safety: thread-safe; copies share one state and may be used from any threads
/// (one handle object: one thread at a time, as any object).
template <class T>
class future {
    static_assert(!std::is_reference_v<T>, "weft::future<T>: T must not be a reference");
    static_assert(!std::is_array_v<T>, "weft::future<T>: T must not be an array");

public:
    using value_type = T;
    /// What get() on an lvalue returns: `const T&`, or void.
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
    /// done-callbacks on the calling thread; the then() continuations downstream are
    /// cancelled on this thread too, before cancel() returns. The future of a task
    /// graph's run is the exception: cancel() while it runs returns true, stops new
    /// nodes, and the future ends cancelled once the running nodes finish.
    bool cancel() const { return state().cancel(); }

    /// Waits until done, then returns a reference to the value (valid while a handle to
    /// this state lives) or rethrows the stored exception (the same exception_ptr each
    /// time); cancelled_error if cancelled.
    get_type get() const& {
        detail::shared_state<T>& s = state();
        s.wait();
        s.rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) return s.value();
    }
    /// On an rvalue (`std::move(f).get()`, `weft::async(ex, f).get()`): waits, then
    /// returns the value itself, moved out when this handle is its only reader (no other
    /// handle, no continuation still to read it) and copied otherwise; a move-only value
    /// that is still shared throws invalid_state_error. Leaves this handle empty.
    T get() && {
        const detail::reader_ptr<detail::shared_state<T>> s = state_move();
        s->wait();
        s->rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) return detail::take_value(*s, "weft::future::get");
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
    get_type result() const& { return get(); }
    /// std::move(f).get(), under Python's name.
    T result() && { return std::move(*this).get(); }
    /// As result(), but throws timeout_error if not done within `timeout`.
    template <class Rep, class Period>
    get_type result(const std::chrono::duration<Rep, Period>& timeout) const& {
        detail::shared_state<T>& s = state();
        wait_or_throw(s, timeout);
        s.rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) return s.value();
    }
    /// As std::move(f).result(), but throws timeout_error (leaving this handle as it
    /// was) if not done within `timeout`.
    template <class Rep, class Period>
    T result(const std::chrono::duration<Rep, Period>& timeout) && {
        wait_or_throw(state(), timeout);
        return std::move(*this).get();
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
        wait_or_throw(s, timeout);
        return checked_error(s);
    }

    /// Calls `cb(future)` once done: on the completing (or cancelling) thread, in the
    /// order added; at once on this thread if already done. An exception from `cb` is
    /// reported to the executor's handler (or stderr) and ignored.
    template <class F>
    void add_done_callback(F&& cb) const;
    /// As add_done_callback(cb), but `cb(future)` is posted to `ex` once done (an
    /// exception from `ex.post` or from `cb` is reported and ignored).
    template <executor_like E, class F>
    void add_done_callback(E& ex, F&& cb) const;

    /// Runs `f(value)` (or `f()` for future<void>) as a new task once this future has a
    /// value, and returns the future of its result, unwrapping a returned future<U> to
    /// future<U>. Where it runs: on the executor that completes this future (a
    /// weft::executor, a thread_pool_executor); for a promise without an executor or a
    /// user executor's async, on the completing thread. An exception or cancellation
    /// passes downstream at once, without calling `f`. On an lvalue `f` gets `const T&`;
    /// on an rvalue (`std::move(fut).then(f)`) it gets the value as an rvalue, moved when
    /// the continuation is its only reader.
    template <class F>
    [[nodiscard]] auto then(F&& f) const& {
        return attach<detail::then_mode::value, false>(0, detail::sink_target{}, state_ref(), std::forward<F>(f));
    }
    template <class F>
    [[nodiscard]] auto then(F&& f) && {
        return attach<detail::then_mode::moved_value, false>(0, detail::sink_target{}, state_move(),
                                                             std::forward<F>(f));
    }
    /// As then(f), on executor `ex` (anything that models executor_like; a user
    /// executor must outlive the continuation's post).
    template <executor_like E, class F>
    [[nodiscard]] auto then(E& ex, F&& f) const& {
        return attach_on<detail::then_mode::value>(ex, state_ref(), std::forward<F>(f));
    }
    template <executor_like E, class F>
    [[nodiscard]] auto then(E& ex, F&& f) && {
        return attach_on<detail::then_mode::moved_value>(ex, state_move(), std::forward<F>(f));
    }
    /// As then(f), but runs `f` on the completing thread itself, at once. Nested deeper
    /// than detail::k_max_inline_depth, it runs on that thread right after the outermost
    /// inline continuation, so long chains keep a bounded stack.
    template <class F>
    [[nodiscard]] auto then_inline(F&& f) const& {
        return attach<detail::then_mode::value, true>(0, detail::sink_target{}, state_ref(), std::forward<F>(f));
    }
    template <class F>
    [[nodiscard]] auto then_inline(F&& f) && {
        return attach<detail::then_mode::moved_value, true>(0, detail::sink_target{}, state_move(),
                                                            std::forward<F>(f));
    }
    /// Runs `f(future)` once this future is done in any way (value, exception or
    /// cancellation), so `f` can inspect errors; returns the future of its result.
    template <class F>
    [[nodiscard]] auto continue_with(F&& f) const& {
        return attach<detail::then_mode::whole_future, false>(0, detail::sink_target{}, state_ref(),
                                                              std::forward<F>(f));
    }
    template <class F>
    [[nodiscard]] auto continue_with(F&& f) && {
        return attach<detail::then_mode::whole_future, false>(0, detail::sink_target{}, state_move(),
                                                              std::forward<F>(f));
    }
    /// As continue_with(f), on executor `ex`.
    template <executor_like E, class F>
    [[nodiscard]] auto continue_with(E& ex, F&& f) const& {
        return attach_on<detail::then_mode::whole_future>(ex, state_ref(), std::forward<F>(f));
    }
    template <executor_like E, class F>
    [[nodiscard]] auto continue_with(E& ex, F&& f) && {
        return attach_on<detail::then_mode::whole_future>(ex, state_move(), std::forward<F>(f));
    }

    /// Identity: two handles are equal if they share a state.
    friend bool operator==(const future& a, const future& b) noexcept {
        return a.m_state.get() == b.m_state.get();
    }

private:
    friend struct detail::future_access;
    using state_handle = detail::reader_ptr<detail::shared_state<T>>;
    explicit future(state_handle s) noexcept : m_state{std::move(s)} {}

    detail::shared_state<T>& state() const {
        if (!m_state) throw invalid_state_error("weft::future: no state (default-constructed or moved-from)");
        return *m_state;
    }
    state_handle state_ref() const {
        state();  // throws on an empty future
        return m_state;
    }
    state_handle state_move() {
        state();
        return std::move(m_state);
    }
    template <class Rep, class Period>
    static void wait_or_throw(detail::shared_state<T>& s, const std::chrono::duration<Rep, Period>& timeout) {
        if (!s.wait_for(detail::saturating_ns(timeout)))
            throw timeout_error("weft::future::result: timed out (the future is not done)");
    }
    static std::exception_ptr checked_error(const detail::shared_state<T>& s) {
        if (s.is_cancelled()) throw cancelled_error("weft::future::exception: the future was cancelled");
        return s.error();
    }

    template <detail::then_mode Mode, class E, class F>
    static auto attach_on(E& ex, state_handle input, F&& f) {
        if constexpr (detail::sink_executor<E>)
            return attach<Mode, false>(ex.sink_id(), detail::sink_target{}, std::move(input), std::forward<F>(f));
        else
            return attach<Mode, false>(0, detail::posted_target<E>{&ex}, std::move(input), std::forward<F>(f));
    }

    template <detail::then_mode Mode, bool Inline, class Target, class F>
    static auto attach(std::uint64_t sink, Target target, state_handle input, F&& f);

    state_handle m_state;
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
    /// A promise whose then() continuations run on `ex` (a weft::executor or a
    /// thread_pool_executor).
    template <detail::sink_executor E>
    explicit promise(E& ex) : m_state{new detail::shared_state<T>(ex.sink_id(), 1, 0)} {}
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
    /// future was cancelled; invalid_state_error otherwise.
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
[[nodiscard]] future<std::decay_t<T>> make_ready_future(T&& value) {
    return detail::future_access::adopt(
        new detail::shared_state<std::decay_t<T>>(detail::ready_tag{}, nullptr, std::forward<T>(value)));
}
/// A future<void> that is already done.
[[nodiscard]] inline future<void> make_ready_future() {
    return detail::future_access::adopt(new detail::shared_state<void>(detail::ready_tag{}, nullptr));
}
/// A future that already holds exception `e`.
template <class T>
[[nodiscard]] future<T> make_exceptional_future(std::exception_ptr e) {
    if (e == nullptr) throw std::invalid_argument("weft::make_exceptional_future: null exception_ptr");
    return detail::future_access::adopt(new detail::shared_state<T>(detail::failed_tag{}, nullptr, std::move(e)));
}

namespace detail {
/// What async() and thread_pool_executor::submit() store: the result without
/// references or cv-qualifiers (futures hold values), or void.
template <class F, class... Args>
using async_result_t = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;
}  // namespace detail

/// Runs `f(args...)` as a task on `ex` and returns the future of its result (a reference
/// result is stored as a value, as thread_pool_executor::submit does). The arguments
/// are decayed copies (as for std::async); the state and the task are one pooled
/// allocation. On one of `ex`'s workers whose deque is already deep, `f` runs at once,
/// inside async() (as task_group::run does): `f` must not wait for something its caller
/// does only after async() returns. Throws std::invalid_argument for an empty callable
/// and executor_shutdown_error once `ex` no longer accepts work. Thread-safe.
template <class F, class... Args>
[[nodiscard]] auto async(executor& ex, F&& f, Args&&... args) {
    using fn_type = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<fn_type, std::decay_t<Args>...>) {
        static_assert(std::is_invocable_v<fn_type, std::decay_t<Args>...>,
                      "weft::async: f cannot be called as f(args...) with decayed copies of these arguments");
        return future<void>{};
    } else {
        using result_type = detail::async_result_t<F, Args...>;
        if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::async: empty callable");
        detail::scheduler& sched = ex.scheduler_ref();
        if (detail::worker* w = sched.local_worker(detail::this_context());
            w != nullptr && sched.should_run_inline(*w)) {
            // The worker already has plenty of queued work for idle workers to steal: run
            // f now (as task_group::run does) and return a future born done.
            return detail::future_access::adopt(detail::invoke_to_ready_state<result_type>(
                &sched, fn_type(std::forward<F>(f)), std::decay_t<Args>(std::forward<Args>(args))...));
        }
        using state_type = detail::async_state<result_type, detail::sink_target, fn_type, std::decay_t<Args>...>;
        auto* s = new state_type(&sched, detail::sink_target{}, std::forward<F>(f), std::forward<Args>(args)...);
        try {
            detail::schedule_task(sched, s);
        } catch (...) {
            delete s;  // never queued: we hold both references
            throw;
        }
        return detail::future_access::adopt<result_type>(s);
    }
}

/// As async(ex, f, args...) on any executor_like `ex` (a user's executor): `f` runs
/// where `ex.post` puts it. A wait on one of `ex`'s threads (running_in_this_thread())
/// runs the task itself if `ex` has not started it yet. Throws what `ex.post` throws.
/// Thread-safe if `ex.post` is.
template <executor_like E, class F, class... Args>
    requires(!std::is_same_v<E, executor>)
[[nodiscard]] auto async(E& ex, F&& f, Args&&... args) {
    using fn_type = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<fn_type, std::decay_t<Args>...>) {
        static_assert(std::is_invocable_v<fn_type, std::decay_t<Args>...>,
                      "weft::async: f cannot be called as f(args...) with decayed copies of these arguments");
        return future<void>{};
    } else {
        using result_type = detail::async_result_t<F, Args...>;
        if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::async: empty callable");
        using state_type =
            detail::async_state<result_type, detail::posted_target<E>, fn_type, std::decay_t<Args>...>;
        auto* s = new state_type(nullptr, detail::posted_target<E>{&ex}, std::forward<F>(f),
                                 std::forward<Args>(args)...);
        try {
            s->post();
        } catch (...) {
            delete s;  // never posted: we hold both references
            throw;
        }
        return detail::future_access::adopt<result_type>(s);
    }
}

/// A std::future that becomes ready with `f`'s outcome (its value moved when `f` was
/// its only reader, else copied; its exception; cancelled_error if cancelled). Waiting
/// on the std::future runs nothing and does not keep a blocked worker's executor's
/// parallelism: on a weft worker, wrap the wait in this_worker::blocking.
template <class T>
[[nodiscard]] std::future<T> to_std_future(future<T> f) {
    auto* node = new detail::std_future_node<T>();
    std::future<T> out = node->m_promise.get_future();
    detail::shared_state<T>* s = detail::future_access::take(std::move(f), "weft::to_std_future").detach();
    s->add_continuation(node);  // the node owns the reader reference now
    return out;
}

/// Adopts a std::future: returns a weft::future with its outcome, made by a task on `ex`
/// that waits for `sf` (inside this_worker::blocking, so a weft::executor keeps its
/// parallelism meanwhile). A reference result is stored as a value.
template <executor_like E, class T>
[[nodiscard]] auto from_std_future(E& ex, std::future<T> sf) {
    if (!sf.valid()) throw invalid_state_error("weft::from_std_future: the std::future has no state");
    return weft::async(ex, [sf = std::move(sf)]() mutable -> decltype(auto) {
        return this_worker::blocking([&]() -> decltype(auto) { return sf.get(); });
    });
}

template <class T>
template <class F>
void future<T>::add_done_callback(F&& cb) const {
    using fn_type = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<fn_type&, const future<T>&>) {
        static_assert(std::is_invocable_v<fn_type&, const future<T>&>,
                      "weft::future::add_done_callback: cb must be callable as cb(const future<T>&)");
    } else {
        if (detail::is_empty_callable(cb))
            throw std::invalid_argument("weft::future::add_done_callback: empty callable");
        detail::add_callback<T, fn_type>(state(), std::forward<F>(cb));
    }
}

template <class T>
template <executor_like E, class F>
void future<T>::add_done_callback(E& ex, F&& cb) const {
    using fn_type = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<fn_type&, const future<T>&>) {
        static_assert(std::is_invocable_v<fn_type&, const future<T>&>,
                      "weft::future::add_done_callback: cb must be callable as cb(const future<T>&)");
    } else {
        if (detail::is_empty_callable(cb))
            throw std::invalid_argument("weft::future::add_done_callback: empty callable");
        add_done_callback([&ex, cb = fn_type(std::forward<F>(cb))](const future<T>& done) mutable {
            detail::post_callback(ex, cb, done);
        });
    }
}

template <class T>
template <detail::then_mode Mode, bool Inline, class Target, class F>
auto future<T>::attach(std::uint64_t sink, Target target, state_handle input, F&& f) {
    using fn_type = std::decay_t<F>;
    constexpr bool ok = detail::continuation_invocable<T, fn_type, Mode>;
    if constexpr (!ok) {
        static_assert(ok || Mode == detail::then_mode::whole_future,
                      "weft::future::then: f must be callable as f(const T&) (f(T&&) on an rvalue future), "
                      "or as f() for future<void>");
        static_assert(ok || Mode != detail::then_mode::whole_future,
                      "weft::future::continue_with: f must be callable as f(const future<T>&)");
        return future<void>{};
    } else {
        using raw = typename detail::continuation_result<T, fn_type, Mode>::type;
        using out = typename detail::unwrap_future<raw>::type;
        using state_type = detail::then_state<out, T, fn_type, Mode, Inline, Target>;
        if (detail::is_empty_callable(f)) throw std::invalid_argument("weft::future::then: empty callable");
        detail::shared_state<T>& up = *input;
        // Two references: the returned future's, and the work's (dropped once it has run).
        auto* s = new state_type(sink, target, std::move(input), std::forward<F>(f));
        future<out> result = detail::future_access::adopt<out>(s);
        up.add_continuation(s);
        return result;
    }
}

}  // namespace weft

template <class T>
struct std::hash<weft::future<T>> {
    std::size_t operator()(const weft::future<T>& f) const noexcept {
        return std::hash<const void*>{}(weft::detail::future_access::identity(f));
    }
};

#endif  // WEFT_DETAIL_HAS_CXX20
