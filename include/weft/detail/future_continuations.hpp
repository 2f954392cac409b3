// weft — the derived shared states: async tasks, then() continuations, done-callbacks.
// Not API.
//
// An async_state is a shared state and a task node; a then_state is a shared state, a
// continuation node (added to its input) and a task node. Each is one allocation.
// References: the returned future holds one; the pending work holds one until it has
// run (for then_state also one on its input, dropped as soon as it has run, so long
// chains never free recursively).
//
// Thread safety: internal; each object is driven by the protocol of shared_state.hpp.
#pragma once

#include <weft/detail/shared_state.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {
template <class T>
class future;
}  // namespace weft

namespace weft::detail {

template <class T>
struct get_result {
    using type = const T&;
};
template <>
struct get_result<void> {
    using type = void;
};

template <class T>
struct is_future : std::false_type {};
template <class T>
struct is_future<future<T>> : std::true_type {};

template <class R>
struct unwrap_future {
    using type = R;
};
template <class U>
struct unwrap_future<future<U>> {
    using type = U;
};

/// Converts any duration to nanoseconds: <= 0 -> 0, too large -> nanoseconds::max()
/// (which the waits treat as "forever").
template <class Rep, class Period>
std::chrono::nanoseconds saturating_ns(const std::chrono::duration<Rep, Period>& d) {
    using std::chrono::nanoseconds;
    if (d <= d.zero()) return nanoseconds::zero();
    const std::chrono::duration<long double, std::nano> wide = d;
    if (wide.count() >= static_cast<long double>(nanoseconds::max().count())) return nanoseconds::max();
    const auto ns = std::chrono::duration_cast<nanoseconds>(wide);
    return ns > nanoseconds::zero() ? ns : nanoseconds{1};
}

/// Builds futures from states (future's constructor is private).
struct future_access {
    /// A future adopting a reader reference the caller holds on `s`.
    template <class T>
    static future<T> adopt(shared_state<T>* s) noexcept {
        return future<T>{reader_ptr<shared_state<T>>{s}};
    }
    /// A future made from a work reference (which becomes a reader reference).
    template <class T>
    static future<T> make(state_ptr<shared_state<T>> s) noexcept {
        shared_state<T>* p = s.detach();
        p->promote_to_reader();
        return adopt(p);
    }
    template <class T>
    static const reader_ptr<shared_state<T>>& state(const future<T>& f) noexcept {
        return f.m_state;
    }
    template <class T>
    static const void* identity(const future<T>& f) noexcept {
        return f.m_state.get();
    }
    /// Takes `f`'s reader reference (leaving `f` empty); invalid_state_error naming `who`
    /// if `f` is empty.
    template <class T>
    static reader_ptr<shared_state<T>> take(future<T>&& f, const char* who) {
        if (!f.m_state) throw invalid_state_error(std::string{who} + ": the future is empty");
        return std::move(f.m_state);
    }
};

/// A new handle to `s` (one more reader reference).
template <class T>
future<T> share(shared_state<T>& s) noexcept {
    s.add_reader();
    return future_access::adopt(&s);
}

/// Calls `f(args...)` and stores its result (or exception) in `s`, whose runner the
/// caller is (it won try_start, and no promise can complete `s`).
template <class T, class F, class... Args>
void invoke_as_runner(shared_state<T>& s, F&& f, Args&&... args) noexcept {
    try {
        if constexpr (std::is_void_v<T>) {
            std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
            s.set_value_as_runner();
        } else {
            s.set_value_as_runner(std::invoke(std::forward<F>(f), std::forward<Args>(args)...));
        }
    } catch (...) {
        s.fail_as_runner(std::current_exception());
    }
}

/// Calls `f(args...)` at once and returns a state born done with its outcome.
template <class T, class F, class... Args>
shared_state<T>* invoke_to_ready_state(scheduler* sched, F&& f, Args&&... args) {
    try {
        if constexpr (std::is_void_v<T>) {
            std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
            return new shared_state<void>(ready_tag{}, sched);
        } else {
            return new shared_state<T>(ready_tag{}, sched,
                                       std::invoke(std::forward<F>(f), std::forward<Args>(args)...));
        }
    } catch (...) {
        return new shared_state<T>(failed_tag{}, sched, std::current_exception());
    }
}

/// A continuation that completes another state with the outcome of the one it was added
/// to (then()'s unwrapping). Completing one may run the next (a chain of futures each
/// unwrapped from the next): so that 10^6 links need no 10^6 frames, such forwards run
/// one at a time per thread, queued behind the one running (a trampoline).
struct forward_node : continuation {
    using forward_fn = void (*)(forward_node* self) noexcept;
    forward_fn m_forward = nullptr;
    state_base* m_from = nullptr;  // a reader reference, taken when the node is added
};

/// The calling thread's queue of forwards (see forward_node). Owner-only.
struct forwarding_queue {
    bool m_active = false;
    forward_node* m_head = nullptr;
    forward_node* m_tail = nullptr;
};
inline constinit thread_local forwarding_queue tls_forwarding{};

/// Runs `n`'s forward now, or after the one this thread is running.
inline void run_forward(forward_node* n) noexcept {
    n->m_next = nullptr;
    forwarding_queue& q = tls_forwarding;
    if (q.m_tail != nullptr)
        q.m_tail->m_next = n;
    else
        q.m_head = n;
    q.m_tail = n;
    if (q.m_active) return;
    q.m_active = true;
    while (forward_node* next = q.m_head) {
        q.m_head = static_cast<forward_node*>(next->m_next);
        if (q.m_head == nullptr) q.m_tail = nullptr;
        next->m_forward(next);
    }
    q.m_active = false;
}

/// Moves (a sole reader) or copies the outcome of `from` into `to`.
template <class U>
void forward_outcome(shared_state<U>& to, shared_state<U>& from) noexcept {
    if (from.is_cancelled()) {
        to.try_complete_cancelled();
    } else if (from.error() != nullptr) {
        to.try_fail(from.error());
    } else if constexpr (std::is_void_v<U>) {
        to.try_set_value();
    } else {
        try {
            to.try_set_value(take_value(from, "weft::future::then (unwrapping)"));
        } catch (...) {
            to.try_fail(std::current_exception());
        }
    }
}

/// Forwards an inner future's outcome to the state of then()'s unwrapped result.
template <class U>
struct unwrap_node final : forward_node {
    /// Holds a work reference on `to` (taken here) and the reader reference on `from`
    /// that the caller hands over (the returned future's own: it must not count twice,
    /// or a move-only value could not be moved on).
    unwrap_node(shared_state<U>& to, reader_ptr<shared_state<U>> from) noexcept : m_to{&to} {
        to.add_ref();
        m_from = from.detach();
        m_run = &run;
        m_forward = &forward;
    }
    static void run(continuation* c, state_base& /*done*/) noexcept { run_forward(static_cast<unwrap_node*>(c)); }
    static void forward(forward_node* n) noexcept {
        auto* self = static_cast<unwrap_node*>(n);
        auto* from = static_cast<shared_state<U>*>(self->m_from);
        forward_outcome(*self->m_to, *from);
        delete self;
        from->release_reader();
    }
    state_ptr<shared_state<U>> m_to;
};

/// Stores `r` into `s` (whose runner the caller is), or, when `r` is a future, arranges
/// to forward its outcome.
template <class Out, class R>
void store_result(shared_state<Out>& s, R&& r) noexcept {
    if constexpr (is_future<std::decay_t<R>>::value) {
        if (!future_access::state(r)) {
            s.fail_as_runner(std::make_exception_ptr(
                invalid_state_error("weft::future::then: the continuation returned an empty future")));
            return;
        }
        // The returned future's reader reference goes to the node (a copy if the
        // continuation returned a reference to a future it keeps).
        reader_ptr<shared_state<Out>> inner = std::is_lvalue_reference_v<R>
                                                  ? future_access::state(r)
                                                  : future_access::take(std::move(r), "weft::future::then");
        shared_state<Out>& from = *inner;
        unwrap_node<Out>* node;
        try {
            node = new unwrap_node<Out>(s, std::move(inner));
        } catch (...) {
            s.fail_as_runner(std::current_exception());
            return;
        }
        from.add_continuation(node);
    } else {
        s.set_value_as_runner(std::forward<R>(r));
    }
}

/// How a continuation receives its input: the value as `const T&` (then() on an
/// lvalue), the value as an rvalue (then() on an rvalue future: moved when the
/// continuation is its only reader), or the whole future (continue_with()).
enum class then_mode { value, moved_value, whole_future };

template <class T, then_mode Mode>
struct continuation_arg {
    // add_lvalue_reference_t<const T>: `const T&` would be ill-formed for T = void.
    using type = std::add_lvalue_reference_t<const T>;
};
template <class T>
struct continuation_arg<T, then_mode::moved_value> {
    using type = std::add_rvalue_reference_t<T>;
};
template <class T>
struct continuation_arg<T, then_mode::whole_future> {
    using type = const future<T>&;
};

/// True if a continuation `F` of a future<T> can be called in mode `Mode`.
template <class T, class F, then_mode Mode>
inline constexpr bool continuation_invocable =
    (std::is_void_v<T> && Mode != then_mode::whole_future)
        ? std::is_invocable_v<F&>
        : std::is_invocable_v<F&, typename continuation_arg<T, Mode>::type>;

/// What the continuation returns (void when it cannot be called: the caller has already
/// failed a static_assert, and this keeps the compiler from piling errors onto it).
template <class T, class F, then_mode Mode>
struct continuation_result {
    using type = void;
};
template <class T, class F, then_mode Mode>
    requires continuation_invocable<T, F, Mode>
struct continuation_result<T, F, Mode> {
    using type = typename std::conditional_t<std::is_void_v<T> && Mode != then_mode::whole_future,
                                             std::invoke_result<F&>,
                                             std::invoke_result<F&, typename continuation_arg<T, Mode>::type>>::type;
};

/// Where a continuation or an async task runs: on the executor or pool whose sink id the
/// state carries (weft::executor, weft::thread_pool_executor), or posted to a user's
/// executor_like `E` with `post_task`.
struct sink_target {};
template <class E>
struct posted_target {
    E* m_ex = nullptr;
};

/// Runs a task posted to a user executor exactly once; if every copy of the posted
/// callable is destroyed unrun (the executor dropped it), `m_abandon` disposes of the
/// task instead. Shared by the copies (a user executor may copy what it is given).
struct posted_once {
    using abandon_fn = void (*)(task_base*) noexcept;
    posted_once(task_base* t, abandon_fn a) noexcept : m_task{t}, m_abandon{a} {}
    posted_once(const posted_once&) = delete;
    posted_once& operator=(const posted_once&) = delete;
    ~posted_once() {
        // relaxed: pairs with nothing itself; the last shared_ptr owner's acq_rel
        // decrement already ordered every copy's exchange in operator() before this.
        if (m_armed && !m_taken.load(std::memory_order_relaxed)) m_abandon(m_task);  // relaxed: see above
    }
    task_base* m_task;
    abandon_fn m_abandon;
    std::atomic<bool> m_taken{false};
    bool m_armed = false;  // set once post() returned: before that, its caller owns the task
};

/// The callable weft posts to a user executor: calls run the task once.
class posted_call {
public:
    explicit posted_call(std::shared_ptr<posted_once> once) noexcept : m_once{std::move(once)} {}
    void operator()() const noexcept {
        // acq_rel: pairs with the other copies' exchange (one call wins) and, through the
        // shared_ptr's decrement, with ~posted_once's load of m_taken.
        if (!m_once->m_taken.exchange(true, std::memory_order_acq_rel))  // acq_rel: see above
            m_once->m_task->m_invoke(m_once->m_task);
    }

private:
    std::shared_ptr<posted_once> m_once;
};

/// Posts task `t` to `ex`. If post() throws, nothing is armed and the caller still owns
/// `t`; afterwards, a task the executor drops unrun is given to `abandon`.
template <class E>
void post_task(E& ex, task_base* t, posted_once::abandon_fn abandon) {
    auto once = std::make_shared<posted_once>(t, abandon);
    const no_defer_scope user_code;  // post() may run the task at once
    ex.post(posted_call{once});
    once->m_armed = true;
}

/// The message of a future whose task a user executor destroyed without running it.
inline constexpr const char* k_dropped_task_message =
    "the executor destroyed the task without running it";

template <class Out, class T, class F, then_mode Mode, bool Inline, class Target = sink_target>
class then_state final : public shared_state<Out>, public continuation, public task_base {
    static constexpr bool k_posted = !std::is_same_v<Target, sink_target>;

public:
    // Continuations are often built long before they run (a chain of 10^5 links is
    // built, then run): the global allocator hands them out in address order, which the
    // run then walks like a stream; the pool's recycled nodes would be scattered. The
    // aligned forms keep alignas(64) results aligned (they hide the base class's).
    static void* operator new(std::size_t size) { return ::operator new(size); }
    static void operator delete(void* p) noexcept { ::operator delete(p); }
    static void* operator new(std::size_t size, std::align_val_t al) { return ::operator new(size, al); }
    static void operator delete(void* p, std::align_val_t al) noexcept { ::operator delete(p, al); }

    /// Continuations run on the sink `sink_id` (0: where the input's would run), or
    /// posted to `target`'s executor. Holds a reader reference on `input`.
    template <class G>
    then_state(std::uint64_t sink_id, Target target, reader_ptr<shared_state<T>> input, G&& f)
        : shared_state<Out>(sink_id, 2, 1), m_input{std::move(input)}, m_fn{std::in_place, std::forward<G>(f)},
          m_target{target} {
        if (sink_id == 0 && !k_posted) this->inherit_scheduler(*m_input);  // then() without an executor
        continuation::m_run = &on_input_done;
        task_base::m_invoke = &invoke;
    }

private:
    static void on_input_done(continuation* c, state_base& input) noexcept {
        // A reference, not a pointer cast: g++ 12 otherwise warns about the null branch
        // of the base-to-derived adjustment (-Wstringop-overflow).
        then_state* self = &static_cast<then_state&>(*c);
        if (self->is_done()) {  // cancelled meanwhile: nothing to run
            self->finish();
            return;
        }
        // An input that failed or was cancelled only passes its outcome on: at once, on
        // this thread (so cancel() cancels the whole chain before it returns), with the
        // depth bound of inline continuations.
        const bool passes_on = Mode != then_mode::whole_future && (input.is_cancelled() || input.error() != nullptr);
        if (Inline || passes_on) {
            run_inline(static_cast<task_base*>(self));
            return;
        }
        try {
            if constexpr (k_posted)
                post_task(*self->m_target.m_ex, static_cast<task_base*>(self), &abandon);
            else
                schedule_task(self->sched_id(), static_cast<task_base*>(self));
        } catch (...) {
            self->try_fail(std::current_exception());  // e.g. the executor shut down
            self->finish();
        }
    }

    static void invoke(task_base* t) noexcept { static_cast<then_state*>(t)->execute(); }

    static void abandon(task_base* t) noexcept {
        then_state* self = static_cast<then_state*>(t);
        if (self->try_start() == start_result::started)
            self->fail_as_runner(std::make_exception_ptr(
                broken_promise(std::string{"weft::future::then: "} + k_dropped_task_message)));
        self->finish();
    }

    void execute() noexcept {
        shared_state<T>& in = *m_input;
        if constexpr (Mode != then_mode::whole_future) {
            if (in.is_cancelled()) {
                this->try_complete_cancelled();
                return finish();
            }
            if (in.error() != nullptr) {
                this->try_fail(in.error());
                return finish();
            }
        }
        if (this->try_start() != start_result::started) return finish();  // cancelled
        try {
            if constexpr (std::is_void_v<decltype(call(in))>) {
                call(in);
                this->set_value_as_runner();
            } else {
                store_result<Out>(*this, call(in));
            }
        } catch (...) {
            this->fail_as_runner(std::current_exception());
        }
        finish();
    }

    decltype(auto) call(shared_state<T>& in) {
        F& f = *m_fn;
        if constexpr (Mode == then_mode::whole_future) {
            return std::invoke(f, share(in));
        } else if constexpr (std::is_void_v<T>) {
            return std::invoke(f);
        } else if constexpr (Mode == then_mode::moved_value) {
            return std::invoke(f, take_value(in, "weft::future::then"));
        } else {
            return std::invoke(f, std::as_const(in.value()));
        }
    }

    void finish() noexcept {
        m_fn.reset();    // the callable's captures go as soon as it has run
        m_input = {};    // so chains never free recursively
        this->release();  // the work reference
    }

    reader_ptr<shared_state<T>> m_input;
    std::optional<F> m_fn;
    [[no_unique_address]] Target m_target;
};

/// The state of weft::async: the callable and its arguments, run as a task on a
/// weft::executor (`Target` sink_target) or posted to a user's executor.
template <class R, class Target, class F, class... Args>
class async_state final : public shared_state<R>, public task_base {
    static constexpr bool k_posted = !std::is_same_v<Target, sink_target>;

public:
    /// Two references: the future's (a reader) and the task's.
    template <class G, class... A>
    explicit async_state(scheduler* s, Target target, G&& f, A&&... args)
        : shared_state<R>(s, 2, 1), m_call{std::in_place, std::forward<G>(f), std::forward<A>(args)...},
          m_target{target} {
        task_base::m_invoke = &invoke;
    }

    /// A thread that waits for this state runs it here if nobody has started it and the
    /// thread belongs to its executor (a worker of its weft::executor; a thread for which
    /// a user executor's running_in_this_thread() is true); the queued task then finds it
    /// started and only drops its reference.
    bool try_claim() noexcept override {
        if constexpr (k_posted) {
            if (!m_target.m_ex->running_in_this_thread()) return false;
            if (this->try_start() != start_result::started) return false;
            run_call();
            return true;
        } else {
            worker* w = current_worker();
            if (w == nullptr || w->m_sched->id() != this->sched_id()) return false;
            if (this->try_start() != start_result::started) return false;
            ++w->m_depth;  // nested in a wait: its continuations do not take the next-task slot
            run_call();
            --w->m_depth;
            return true;
        }
    }

    /// Posts the task to the user's executor (k_posted only). Throws what post() throws;
    /// then the task reference is still the caller's.
    void post() { post_task(*m_target.m_ex, static_cast<task_base*>(this), &abandon); }

private:
    static void invoke(task_base* t) noexcept {
        auto* self = static_cast<async_state*>(t);
        switch (self->try_start()) {
            case start_result::started: self->run_call(); break;
            case start_result::cancelled: self->m_call.reset(); break;  // nobody else touches it
            case start_result::unexpected: break;  // claimed by a waiter, which owns m_call
        }
        self->release();
    }

    static void abandon(task_base* t) noexcept {
        auto* self = static_cast<async_state*>(t);
        if (self->try_start() == start_result::started) {
            self->m_call.reset();
            self->fail_as_runner(
                std::make_exception_ptr(broken_promise(std::string{"weft::async: "} + k_dropped_task_message)));
        }
        self->release();
    }

    /// Only by the thread that won try_start().
    void run_call() noexcept {
        std::apply([this](auto&&... a) { invoke_as_runner<R>(*this, std::move(a)...); }, std::move(*m_call));
        m_call.reset();
    }

    std::optional<std::tuple<F, Args...>> m_call;
    [[no_unique_address]] Target m_target;
};

/// A done-callback: `m_fn(future)`, reported and ignored if it throws. Holds a reader
/// reference on its state from when it is added until it has run.
template <class T, class F>
struct callback_node final : continuation {
    template <class G>
    explicit callback_node(G&& f) : m_fn(std::forward<G>(f)) {
        m_run = &run;
    }
    static void run(continuation* c, state_base& done) noexcept {
        auto* self = static_cast<callback_node*>(c);
        auto& s = static_cast<shared_state<T>&>(done);
        {
            const no_defer_scope user_code;
            const future<T> handle = future_access::adopt(&s);  // the node's reader reference
            try {
                std::invoke(self->m_fn, handle);
            } catch (...) {
                s.report_callback_exception(std::current_exception());
            }
        }
        delete self;
    }
    F m_fn;
};

/// Adds callback node `F` (made from `cb`) to `s`, with the node's reader reference.
template <class T, class F, class G>
void add_callback(shared_state<T>& s, G&& cb) {
    s.add_reader();
    callback_node<T, F>* node;
    try {
        node = new callback_node<T, F>(std::forward<G>(cb));
    } catch (...) {
        s.release_reader();
        throw;
    }
    s.add_continuation(node);
}

/// Sets a std::promise from the state it was added to (weft::to_std_future). Holds a
/// reader reference on that state until it has run.
template <class T>
struct std_future_node final : continuation {
    std_future_node() noexcept { m_run = &run; }
    static void run(continuation* c, state_base& done) noexcept {
        auto* self = static_cast<std_future_node*>(c);
        auto& s = static_cast<shared_state<T>&>(done);
        try {
            if (s.is_cancelled()) {
                self->m_promise.set_exception(
                    std::make_exception_ptr(cancelled_error("weft::to_std_future: the future was cancelled")));
            } else if (s.error() != nullptr) {
                self->m_promise.set_exception(s.error());
            } else if constexpr (std::is_void_v<T>) {
                self->m_promise.set_value();
            } else {
                self->m_promise.set_value(take_value(s, "weft::to_std_future"));
            }
        } catch (...) {
            try {
                self->m_promise.set_exception(std::current_exception());
            } catch (...) {  // already satisfied: nothing left to tell
            }
        }
        delete self;
        s.release_reader();
    }
    std::promise<T> m_promise;
};

/// Posts `cb(done)` to `ex` (add_done_callback's executor form); what post() or `cb`
/// throws is reported like a done-callback's exception.
template <class E, class F, class T>
void post_callback(E& ex, F& cb, const future<T>& done) noexcept {
    const auto& state = future_access::state(done);
    try {
        ex.post([cb = std::move(cb), done]() mutable {
            try {
                std::invoke(cb, std::as_const(done));
            } catch (...) {
                future_access::state(done)->report_callback_exception(std::current_exception());
            }
        });
    } catch (...) {
        state->report_callback_exception(std::current_exception());
    }
}

}  // namespace weft::detail
