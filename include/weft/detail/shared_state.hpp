// weft — the shared state behind weft::future and weft::promise. Not API.
//
// One object per future: a reference count, the state word and continuation list of
// future_state.hpp, the value or exception, and the scheduler on which then()
// continuations run. Derived states (async tasks, then() continuations, when_all) add
// their callable and are at the same time the task node and the continuation node, so
// one allocation serves all three roles.
//
// Thread safety: thread-safe, except where a member says who may call it.
#pragma once

#include <weft/detail/future_state.hpp>
#include <weft/detail/scheduler.hpp>
#include <weft/errors.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft::detail {

class state_base;

/// `timeout` from now on steady_clock, saturating at time_point::max() (which waits
/// read as "no deadline") instead of overflowing; a timeout <= 0 is "now" (adding
/// nanoseconds::min() would wrap around to the far future).
inline std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds timeout) {
    using clock = std::chrono::steady_clock;
    const clock::time_point now = clock::now();
    if (timeout <= std::chrono::nanoseconds::zero()) return now;
    if (timeout >= clock::time_point::max() - now) return clock::time_point::max();
    return now + std::chrono::duration_cast<clock::duration>(timeout);
}

/// Continuations that run on the calling thread nest at most this deep; deeper ones
/// wait in a per-thread FIFO that the outermost one drains before it returns, so a long
/// chain completing on one thread cannot overflow its stack.
inline constexpr std::uint32_t k_max_inline_depth = 64;

/// True while an async or continuation task completes its state as its very last act:
/// continuations scheduled then may take the worker's next-task slot.
inline constinit thread_local bool tls_completing_at_task_end = false;

/// True while a task that runs inline (tls_trampoline.m_depth > 0) completes its state as
/// its very last act: the inline continuation that completion starts last (its state's
/// last continuation, or one that continuation starts in turn) waits in the trampoline
/// until that task has returned, instead of nesting inside it. A then_inline chain so
/// runs flat, each link cleaned up (its input released, its node freed) before the next
/// one runs, as then()'s chain does through the next-task slot; nested, each link's
/// cleanup waited until up to 63 later links had run on a deeper stack.
inline constinit thread_local bool tls_defer_inline = false;

/// Sets tls_completing_at_task_end and tls_defer_inline for a scope, restoring them.
class task_end_scope {
public:
    task_end_scope(bool at_end, bool defer_inline) noexcept
        : m_saved_at_end{std::exchange(tls_completing_at_task_end, at_end)},
          m_saved_defer{std::exchange(tls_defer_inline, defer_inline)} {}
    ~task_end_scope() {
        tls_completing_at_task_end = m_saved_at_end;
        tls_defer_inline = m_saved_defer;
    }
    task_end_scope(const task_end_scope&) = delete;
    task_end_scope& operator=(const task_end_scope&) = delete;

private:
    bool m_saved_at_end;
    bool m_saved_defer;
};

/// Clears tls_defer_inline while user code that a continuation calls directly runs (a
/// done-callback, a user executor's post): its own inline runs nest as usual.
class no_defer_scope {
public:
    no_defer_scope() noexcept : m_saved{std::exchange(tls_defer_inline, false)} {}
    ~no_defer_scope() { tls_defer_inline = m_saved; }
    no_defer_scope(const no_defer_scope&) = delete;
    no_defer_scope& operator=(const no_defer_scope&) = delete;

private:
    bool m_saved;
};

/// A continuation: runs once, when the state it was added to is done.
struct continuation {
    using run_fn = void (*)(continuation* self, state_base& done_state) noexcept;
    continuation* m_next = nullptr;
    run_fn m_run = nullptr;
};

/// Tags for states made already done: with a value, or with an exception.
struct ready_tag {};
struct failed_tag {};
/// Tag for a pending state whose value is made at construction and published later by
/// try_complete_stored() (a combinator's inputs are its value: no move at the end).
struct stored_value_tag {};

class state_base {
public:
    state_base() = default;
    /// A pending state with `refs` references, `readers` of which are readers (see
    /// m_refs), whose continuations are scheduled on the sink with id `sink_id` (0: none).
    state_base(std::uint64_t sink_id, std::uint32_t refs, std::uint32_t readers) noexcept
        : m_refs{refs, readers}, m_sched_id{sink_id} {}
    /// As above, on scheduler `s` (null: none).
    state_base(scheduler* s, std::uint32_t refs, std::uint32_t readers) noexcept
        : state_base(s != nullptr ? s->id() : 0, refs, readers) {}
    state_base(const state_base&) = delete;
    state_base& operator=(const state_base&) = delete;
    virtual ~state_base();

    // States live in the task pool's size classes (no malloc once warm); over-aligned
    // ones use the global allocator.
    static void* operator new(std::size_t size) { return allocate_pooled(size); }
    static void operator delete(void* p, std::size_t size) noexcept { release_pooled(p, size); }
    static void* operator new(std::size_t size, std::align_val_t al) { return ::operator new(size, al); }
    static void operator delete(void* p, std::align_val_t al) noexcept {
        ::operator delete(p, al);  // unsized: clang 14 lacks sized deallocation by default
    }

    /// One more work reference (the caller holds a reference).
    void add_ref() noexcept { m_refs.add_ref(); }
    /// Drops a work reference.
    void release() noexcept {
        if (m_refs.drop(false)) delete this;
    }
    /// One more reader reference (the caller holds a reference).
    void add_reader() noexcept { m_refs.add_reader(); }
    /// Turns a work reference the caller holds into a reader reference.
    void promote_to_reader() noexcept { m_refs.promote_to_reader(); }
    /// Drops a reader reference.
    void release_reader() noexcept {
        if (m_refs.drop(true)) delete this;
    }
    /// Reader references alive now: a caller that sees 1 (itself) also sees every other
    /// reader's reads finished (future_state.hpp, ref_count).
    std::uint32_t reader_count() const noexcept { return m_refs.readers(); }

    future_phase phase() const noexcept { return m_word.phase(); }
    bool is_done() const noexcept { return m_word.is_done(); }
    bool is_cancelled() const noexcept { return phase() == future_phase::cancelled; }

    /// Python's set_running_or_notify_cancel(): true if pending -> running, false if
    /// cancelled; throws invalid_state_error in any other phase.
    bool start();
    /// pending -> cancelled, then runs the continuations on this thread. True also if
    /// it was already cancelled (Python's Future.cancel()).
    bool cancel() noexcept;
    /// Stores `e` and completes; false (and nothing stored) if already done or completing.
    bool try_fail(std::exception_ptr e) noexcept;
    /// Stores `e` and completes from `running`, without the CAS to `completing`: only
    /// for the runner of a state no promise can complete (see set_value_as_runner).
    void fail_as_runner(std::exception_ptr e) noexcept {
        m_error = std::move(e);
        complete_as_runner();
    }
    /// pending -> running without Python's error for other phases.
    start_result try_start() noexcept { return m_word.try_start(); }
    /// pending or running -> cancelled: a continuation whose input was cancelled. False
    /// if the state was already done.
    bool try_complete_cancelled() noexcept {
        if (!m_word.try_begin_complete()) return false;
        m_word.end_cancelled();
        run_continuations();
        return true;
    }

    /// The stored exception (null if none). Only after is_done().
    const std::exception_ptr& error() const noexcept { return m_error; }
    /// Throws cancelled_error or the stored exception. Only after is_done().
    void rethrow_if_failed() const;

    /// Runs `c` once this state is done: later, on the completing thread, or now. A
    /// state already seen done runs `c` now, even while its completer has not yet closed
    /// the list (Python: a callback added to a done future is called immediately).
    void add_continuation(continuation* c) noexcept {
        if (is_done() || !m_continuations.push(c)) c->m_run(c, *this);
    }

    /// Waits until done. Runs only what it awaits: the state's own task, if nobody has
    /// started it (try_claim); otherwise blocks (a worker keeps its executor's
    /// parallelism meanwhile: block_scope).
    void wait();
    /// As wait(), giving up after `timeout` (<= 0: just checks); runs no task at all.
    /// True if done.
    bool wait_for(std::chrono::nanoseconds timeout);

    /// cancel() found the state running: a state whose work can stop early (a task
    /// graph's run) accepts the request and ends cancelled later. True if accepted.
    virtual bool cancel_running() noexcept { return false; }
    /// Called by wait() before it waits for a state that is not done: throws instead of
    /// waiting when the wait could never end (a graph's run awaited by its own node).
    virtual void check_wait() const {}

    /// Runs the task that completes this state on the calling thread, if nobody has
    /// started it and the calling thread may run it (a worker of its executor, a thread
    /// of its pool; a combinator claims its inputs). True if it ran something.
    virtual bool try_claim() noexcept { return false; }

    /// The id of the scheduler continuations run on (0: none; see scheduler::id()).
    std::uint64_t sched_id() const noexcept { return m_sched_id; }

    /// Reports an exception thrown by a done-callback (Python logs it and goes on).
    void report_callback_exception(std::exception_ptr e) const noexcept;

protected:
    /// A state made already done: one reference, a reader's (the future it is made
    /// for); nobody else sees it yet.
    state_base(scheduler* s, future_phase done) noexcept
        : m_refs{1, 1},
          m_word{done},
          m_continuations{std::true_type{}},
          m_sched_id{s != nullptr ? s->id() : 0} {}


    /// complete() by the runner of an async or continuation task, its last act: when
    /// that task runs as a task of its own (not nested in an inline continuation), the
    /// continuations it schedules may take the worker's next-task slot; when it runs
    /// inline, the inline continuations it starts run after it (tls_defer_inline).
    void complete_as_runner() noexcept {
        const bool runs_inline = tls_trampoline.m_depth != 0;
        const task_end_scope at_end{!runs_inline, runs_inline};
        complete();
    }
    /// After the result is written (we hold `completing`, or `running` of a state no
    /// promise can complete): publish, wake, continue.
    void complete() noexcept {
        m_word.end_complete();
        run_continuations();
    }
    bool begin_complete() noexcept { return m_word.try_begin_complete(); }
    /// Continuations of this state's dependants run where `other`'s would (then() on a
    /// future without an executor of its own).
    void inherit_scheduler(const state_base& other) noexcept { m_sched_id = other.m_sched_id; }
    void set_error(std::exception_ptr e) noexcept { m_error = std::move(e); }

private:
    void run_continuations() noexcept {
        continuation* c = m_continuations.close();
        while (c != nullptr) {
            continuation* next = c->m_next;  // c may be freed by its own run
            if (next != nullptr && tls_defer_inline) {
                // Only the last continuation may be deferred: the others still run in
                // the order added, before it.
                const no_defer_scope in_order;
                c->m_run(c, *this);
            } else {
                c->m_run(c, *this);
            }
            c = next;
        }
    }

    ref_count<> m_refs;  // references, readers among them (future_state.hpp)
    state_word<> m_word;
    continuation_list<continuation> m_continuations;
    std::exception_ptr m_error;
    std::uint64_t m_sched_id = 0;
};

/// The shared state of a future<T>: adds the value.
template <class T>
class shared_state : public state_base {
public:
    using state_base::state_base;
    /// A state born finished with the value made from `args`.
    template <class... Args>
    shared_state(ready_tag, scheduler* s, Args&&... args) : state_base(s, future_phase::finished) {
        ::new (static_cast<void*>(&m_storage)) T(std::forward<Args>(args)...);
        m_has_value = true;
    }
    /// A state born finished with exception `e`.
    shared_state(failed_tag, scheduler* s, std::exception_ptr e) noexcept
        : state_base(s, future_phase::finished) {
        set_error(std::move(e));
    }
    /// A pending state (see state_base's pending constructor) that holds, from now on, the
    /// value made from `args`; try_complete_stored() publishes it. Nobody may read it before.
    template <class... Args>
    shared_state(stored_value_tag, std::uint64_t sink_id, std::uint32_t refs, std::uint32_t readers,
                 Args&&... args)
        : state_base(sink_id, refs, readers) {
        ::new (static_cast<void*>(&m_storage)) T(std::forward<Args>(args)...);
        m_has_value = true;
    }
    ~shared_state() override {
        if (m_has_value) std::launder(reinterpret_cast<T*>(&m_storage))->~T();
    }

    /// Completes with the value made at construction (stored_value_tag). False if already
    /// done (cancelled).
    bool try_complete_stored() noexcept {
        if (!begin_complete()) return false;
        complete();
        return true;
    }

    /// Stores a value made from `args` and completes, from `running` without the CAS
    /// to `completing`: only for states that nothing but their runner can complete
    /// (async and continuation states, which have no promise).
    template <class... Args>
    void set_value_as_runner(Args&&... args) noexcept {
        try {
            ::new (static_cast<void*>(&m_storage)) T(std::forward<Args>(args)...);
            m_has_value = true;
        } catch (...) {
            set_error(std::current_exception());
        }
        complete_as_runner();
    }

    /// Stores a value made from `args` and completes. False if already done. If making
    /// the value throws, that exception is stored instead.
    template <class... Args>
    bool try_set_value(Args&&... args) noexcept {
        if (!begin_complete()) return false;
        try {
            ::new (static_cast<void*>(&m_storage)) T(std::forward<Args>(args)...);
            m_has_value = true;
        } catch (...) {
            set_error(std::current_exception());
        }
        complete();
        return true;
    }

    /// The value. Only once done without an exception.
    const T& value() const noexcept { return *std::launder(reinterpret_cast<const T*>(&m_storage)); }
    T& value() noexcept { return *std::launder(reinterpret_cast<T*>(&m_storage)); }

private:
    alignas(T) unsigned char m_storage[sizeof(T)];
    bool m_has_value = false;  // written before complete()'s release
};

template <>
class shared_state<void> : public state_base {
public:
    using state_base::state_base;
    shared_state(ready_tag, scheduler* s) noexcept : state_base(s, future_phase::finished) {}
    shared_state(failed_tag, scheduler* s, std::exception_ptr e) noexcept
        : state_base(s, future_phase::finished) {
        set_error(std::move(e));
    }
    void set_value_as_runner() noexcept { complete_as_runner(); }
    bool try_set_value() noexcept {
        if (!begin_complete()) return false;
        complete();
        return true;
    }
};

/// An owning pointer to a state (intrusive reference count): a work reference, or with
/// `Reader` a reader reference (see state_base::m_refs).
template <class S, bool Reader = false>
class state_ptr {
public:
    state_ptr() = default;
    /// Adopts one reference of the right kind that the caller already holds.
    explicit state_ptr(S* s) noexcept : m_s{s} {}
    state_ptr(const state_ptr& o) noexcept : m_s{o.m_s} {
        if (m_s == nullptr) return;
        if constexpr (Reader)
            m_s->add_reader();
        else
            m_s->add_ref();
    }
    state_ptr(state_ptr&& o) noexcept : m_s{std::exchange(o.m_s, nullptr)} {}
    state_ptr& operator=(state_ptr o) noexcept {
        std::swap(m_s, o.m_s);
        return *this;
    }
    ~state_ptr() {
        if (m_s == nullptr) return;
        if constexpr (Reader)
            m_s->release_reader();
        else
            m_s->release();
    }
    S* get() const noexcept { return m_s; }
    S* operator->() const noexcept { return m_s; }
    S& operator*() const noexcept { return *m_s; }
    explicit operator bool() const noexcept { return m_s != nullptr; }
    S* detach() noexcept { return std::exchange(m_s, nullptr); }

private:
    S* m_s = nullptr;
};

/// A reader reference: what a future handle holds.
template <class S>
using reader_ptr = state_ptr<S, true>;

/// True if `T` can be copied: std::is_copy_constructible, looking into the elements of
/// containers (whose copy constructors exist even for move-only elements).
template <class T>
struct deep_copyable : std::is_copy_constructible<T> {};
template <class T>
    requires requires { typename T::value_type; typename T::iterator; }
struct deep_copyable<T>
    : std::bool_constant<std::is_copy_constructible_v<T> && deep_copyable<typename T::value_type>::value> {};
template <class A, class B>
struct deep_copyable<std::pair<A, B>> : std::bool_constant<deep_copyable<A>::value && deep_copyable<B>::value> {};
template <class... Ts>
struct deep_copyable<std::tuple<Ts...>> : std::bool_constant<(deep_copyable<Ts>::value && ...)> {};

/// Takes the value out of `s` (done, without an exception) for a caller that holds a
/// reader reference: moved if that is the only reader (nobody else can read it any
/// more), copied otherwise; a move-only value that another reader shares throws
/// invalid_state_error naming `who`.
template <class T>
T take_value(shared_state<T>& s, const char* who) {
    if (s.reader_count() == 1) return std::move(s.value());
    if constexpr (deep_copyable<T>::value) {
        return s.value();
    } else {
        throw invalid_state_error(std::string{who} +
                                  ": the move-only value is shared with another future handle or "
                                  "continuation, so it cannot be moved out");
    }
}

/// Runs task `t` on this thread now, or, when already nested k_max_inline_depth deep or
/// started by an inline task's last act (tls_defer_inline), after the outermost inline
/// run on this thread has finished (or before this thread blocks in a wait, whichever
/// comes first: block_scope). Owner-only (per thread).
inline void run_inline(task_base* t) noexcept {
    inline_trampoline& r = tls_trampoline;
    if (r.m_depth >= k_max_inline_depth || tls_defer_inline) {
        t->m_next = nullptr;
        (r.m_tail != nullptr ? r.m_tail->m_next : r.m_head) = t;
        r.m_tail = t;
        return;
    }
    ++r.m_depth;
    t->m_invoke(t);
    --r.m_depth;
    if (r.m_depth == 0) drain_trampoline();
}

/// Schedules task `t` on scheduler `s`: on the calling worker's deque (or its next-task
/// slot, when a task the worker loop runs completes as its last act), else through the
/// injection queue. Throws executor_shutdown_error if `s` no longer accepts it.
inline void schedule_task(scheduler& s, task_base* t) {
    if (worker* w = s.local_worker(this_context())) {
        if (tls_completing_at_task_end && w->m_depth == 0)
            s.spawn_next(*w, t);
        else
            s.spawn(*w, t);
        return;
    }
    s.inject_task(t);
}

/// Schedules task `t` on the scheduler with id `id` (0: the calling worker's, or, off
/// any worker, runs it on this thread: run_inline). Throws executor_shutdown_error if
/// that scheduler no longer accepts it or no longer exists.
inline void schedule_task(std::uint64_t id, task_base* t) {
    thread_context& ctx = this_context();
    worker* w = ctx.m_worker;
    if (id == 0) {
        if (w == nullptr) {
            run_inline(t);
            return;
        }
        id = w->m_sched->id();
    }
    if (w != nullptr && w->m_sched->id() == id) {
        schedule_task(*w->m_sched, t);
        return;
    }
    inject_by_id(id, t);
}

}  // namespace weft::detail
