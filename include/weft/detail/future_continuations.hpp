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

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
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
    template <class T>
    static future<T> make(state_ptr<shared_state<T>> s) noexcept {
        return future<T>{std::move(s)};
    }
    template <class T>
    static const state_ptr<shared_state<T>>& state(const future<T>& f) noexcept {
        return f.m_state;
    }
    template <class T>
    static const void* identity(const future<T>& f) noexcept {
        return f.m_state.get();
    }
};

/// A new handle to `s` (one more reference).
template <class T>
future<T> share(shared_state<T>& s) noexcept {
    s.add_ref();
    return future_access::make<T>(state_ptr<shared_state<T>>{&s});
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

/// Copies (or, for move-only types, moves) the outcome of `from` into `to`.
template <class U>
void forward_outcome(shared_state<U>& to, shared_state<U>& from) noexcept {
    if (from.is_cancelled()) {
        to.try_complete_cancelled();
    } else if (from.error() != nullptr) {
        to.try_fail(from.error());
    } else if constexpr (std::is_void_v<U>) {
        to.try_set_value();
    } else if constexpr (std::is_copy_constructible_v<U>) {
        to.try_set_value(from.value());
    } else {
        to.try_set_value(std::move(from.value()));  // documented: unwrapping consumes it
    }
}

/// A continuation that completes another state with the outcome of the one it was added
/// to (then()'s unwrapping). Completing one may run the next (a chain of futures each
/// unwrapped from the next): so that 10^6 links need no 10^6 frames, such forwards run
/// one at a time per thread, queued behind the one running (a trampoline).
struct forward_node : continuation {
    using forward_fn = void (*)(forward_node* self) noexcept;
    forward_fn m_forward = nullptr;
    state_base* m_from = nullptr;  // one reference, taken when queued
};

/// The calling thread's queue of forwards (see forward_node). Owner-only.
struct forwarding_queue {
    bool m_active = false;
    forward_node* m_head = nullptr;
    forward_node* m_tail = nullptr;
};
inline constinit thread_local forwarding_queue tls_forwarding{};

/// Runs `n`'s forward now, or after the one this thread is running.
inline void run_forward(forward_node* n, state_base& from) noexcept {
    from.add_ref();  // the forward reads it later, maybe after its other owners let go
    n->m_from = &from;
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

/// Forwards an inner future's outcome to the state of then()'s unwrapped result.
template <class U>
struct unwrap_node final : forward_node {
    explicit unwrap_node(shared_state<U>& to) noexcept : m_to{&to} {
        to.add_ref();
        m_run = &run;
        m_forward = &forward;
    }
    static void run(continuation* c, state_base& done) noexcept {
        run_forward(static_cast<unwrap_node*>(c), done);
    }
    static void forward(forward_node* n) noexcept {
        auto* self = static_cast<unwrap_node*>(n);
        state_base* from = self->m_from;
        forward_outcome(*self->m_to, static_cast<shared_state<U>&>(*from));
        delete self;
        from->release();
    }
    state_ptr<shared_state<U>> m_to;
};

/// Stores `r` into `s` (whose runner the caller is), or, when `r` is a future, arranges
/// to forward its outcome.
template <class Out, class R>
void store_result(shared_state<Out>& s, R&& r) noexcept {
    if constexpr (is_future<std::decay_t<R>>::value) {
        const auto& inner = future_access::state(r);
        if (!inner) {
            s.fail_as_runner(std::make_exception_ptr(
                invalid_state_error("weft::future::then: the continuation returned an empty future")));
            return;
        }
        unwrap_node<Out>* node;
        try {
            node = new unwrap_node<Out>(s);
        } catch (...) {
            s.fail_as_runner(std::current_exception());
            return;
        }
        inner->add_continuation(node);
    } else {
        s.set_value_as_runner(std::forward<R>(r));
    }
}

/// How a continuation receives its input.
enum class then_mode { value, whole_future };

template <class T, class F, then_mode Mode>
struct continuation_result;
template <class T, class F>
struct continuation_result<T, F, then_mode::value> {
    // add_lvalue_reference_t<const T>: `const T&` would be ill-formed for T = void.
    using arg = std::add_lvalue_reference_t<const T>;
    static_assert(std::is_void_v<T> ? std::is_invocable_v<F&> : std::is_invocable_v<F&, arg>,
                  "weft::future::then: f must be callable as f(const T&), or f() for future<void>");
    using type = typename std::conditional_t<std::is_void_v<T>, std::invoke_result<F&>,
                                             std::invoke_result<F&, arg>>::type;
};
template <class T, class F>
struct continuation_result<T, F, then_mode::whole_future> {
    static_assert(std::is_invocable_v<F&, const future<T>&>,
                  "weft::future::continue_with: f must be callable as f(const future<T>&)");
    using type = std::invoke_result_t<F&, const future<T>&>;
};

template <class Out, class T, class F, then_mode Mode, bool Inline>
class then_state final : public shared_state<Out>, public continuation, public task_base {
public:
    // Continuations are often built long before they run (a chain of 10^5 links is
    // built, then run): the global allocator hands them out in address order, which the
    // run then walks like a stream; the pool's recycled nodes would be scattered.
    static void* operator new(std::size_t size) { return ::operator new(size); }
    static void operator delete(void* p) noexcept { ::operator delete(p); }

    template <class G>
    then_state(scheduler* s, state_ptr<shared_state<T>> input, G&& f)
        : shared_state<Out>(s, 2), m_input{std::move(input)}, m_fn{std::in_place, std::forward<G>(f)} {
        if (s == nullptr) this->inherit_scheduler(*m_input);  // then() without an executor
        continuation::m_run = &on_input_done;
        task_base::m_invoke = &invoke;
    }

private:
    static void on_input_done(continuation* c, state_base& /*input*/) noexcept {
        // A reference, not a pointer cast: g++ 12 otherwise warns about the null branch
        // of the base-to-derived adjustment (-Wstringop-overflow).
        then_state* self = &static_cast<then_state&>(*c);
        if (self->is_done()) {  // cancelled meanwhile: nothing to run
            self->finish();
            return;
        }
        if constexpr (Inline) {
            run_inline(static_cast<task_base*>(self));  // depth-bounded, on this thread
            return;
        }
        try {
            schedule_task(self->sched_id(), static_cast<task_base*>(self));
        } catch (...) {
            self->try_fail(std::current_exception());  // e.g. the executor shut down
            self->finish();
        }
    }

    static void invoke(task_base* t) noexcept { static_cast<then_state*>(t)->execute(); }

    void execute() noexcept {
        shared_state<T>& in = *m_input;
        if constexpr (Mode == then_mode::value) {
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
        } else {
            return std::invoke(f, std::as_const(in.value()));
        }
    }

    void finish() noexcept {
        m_fn.reset();    // the callable's captures go as soon as it has run
        m_input = {};    // so chains never free recursively
        this->release();  // the work reference
    }

    state_ptr<shared_state<T>> m_input;
    std::optional<F> m_fn;
};

/// The state of weft::async: the callable and its arguments, run as a task.
template <class R, class F, class... Args>
class async_state final : public shared_state<R>, public task_base {
public:
    template <class G, class... A>
    explicit async_state(scheduler* s, G&& f, A&&... args)
        : shared_state<R>(s, 2), m_call{std::in_place, std::forward<G>(f), std::forward<A>(args)...} {
        task_base::m_invoke = &invoke;  // two references: the future's and the task's
    }

    /// A worker of this state's executor that waits for it runs it here if nobody has
    /// started it; the queued task then finds it started and only drops its reference.
    bool try_claim() noexcept override {
        worker* w = current_worker();
        if (w == nullptr || w->m_sched->id() != this->sched_id()) return false;
        if (this->try_start() != start_result::started) return false;
        ++w->m_depth;  // nested in a wait: its continuations do not take the next-task slot
        run_call();
        --w->m_depth;
        return true;
    }

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

    /// Only by the thread that won try_start().
    void run_call() noexcept {
        std::apply([this](auto&&... a) { invoke_as_runner<R>(*this, std::move(a)...); }, std::move(*m_call));
        m_call.reset();
    }

    std::optional<std::tuple<F, Args...>> m_call;
};

/// A done-callback: `m_fn(future)`, reported and ignored if it throws.
template <class T, class F>
struct callback_node final : continuation {
    template <class G>
    explicit callback_node(G&& f) : m_fn(std::forward<G>(f)) {
        m_run = &run;
    }
    static void run(continuation* c, state_base& done) noexcept {
        auto* self = static_cast<callback_node*>(c);
        auto& s = static_cast<shared_state<T>&>(done);
        try {
            const future<T> handle = share(s);
            std::invoke(self->m_fn, handle);
        } catch (...) {
            s.report_callback_exception(std::current_exception());
        }
        delete self;
    }
    F m_fn;
};

}  // namespace weft::detail
