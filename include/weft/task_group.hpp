// weft — fork-join: a group of tasks and a wait() that runs only its own children.
//
// Counting. The thread that creates the group (its owner) counts the children it spawns
// and the ones it runs itself in a plain field, m_local; only children that finish on
// another thread touch the shared word m_shared (one atomic subtraction each). The
// group is done when m_local + m_shared/2 == 0 (mod 2^31). Bit 0 of m_shared says a
// thread is blocked in wait(): before setting it, the waiter folds m_local into m_shared,
// so that a finishing child can tell from m_shared alone that it was the last one.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/detail/scheduler.hpp>
#include <weft/executor.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft {

/// A set of tasks to run in parallel and wait for together.
///
/// Thread safety: run() is thread-safe (children may add siblings); wait() must be
/// called by the thread that created the group. wait() on one of the executor's workers
/// runs the group's own unstarted children from the top of its deque and nothing else;
/// when none is left there it blocks, and a spare worker keeps the executor's
/// parallelism meanwhile (docs/design/scheduler.md, "Waiting"). On any other thread it
/// blocks. The first exception a task throws is rethrown by wait(); the
/// later ones are passed to the executor's unhandled-exception handler and counted.
class task_group {
public:
    /// A group whose tasks run on `ex`. Thread-safe.
    explicit task_group(executor& ex)
        : m_sched{&ex.scheduler_ref()}, m_owner{&detail::this_context()} {}

    /// Waits for outstanding tasks; an exception not collected by wait() is reported to
    /// the executor's handler (a destructor cannot throw it).
    ~task_group();

    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    /// Runs `f()` as part of the group. Throws std::invalid_argument for an empty
    /// callable, executor_shutdown_error if the executor no longer accepts outside work.
    /// On a worker whose deque is already deep, `f` runs at once, inside run(): a child
    /// must not block on something its parent does only after run() returns.
    template <class F>
    void run(F&& f);

    /// Waits until every task run so far has finished, then rethrows the first exception
    /// any of them threw (and clears it, so the group can be reused). Owner thread only.
    void wait();

    /// True when every task run so far has finished. Owner thread only.
    bool is_done() const noexcept {
        // acquire: pairs with the release in child_done_remote(), so the children's
        // effects are visible once they are counted.
        const std::uint32_t shared = m_shared.load(std::memory_order_acquire);
        return ((m_local + (shared >> 1)) & k_count_mask) == 0;
    }

    /// Exceptions thrown by tasks beyond the first (those wait() does not rethrow).
    std::uint64_t dropped_exception_count() const noexcept {
        return m_dropped.load(std::memory_order_relaxed);  // relaxed: statistics
    }

    /// Not API: called by a finishing child.
    void child_done() noexcept;
    /// Not API: called by a child that threw.
    void record_exception(std::exception_ptr e) noexcept;

private:
    template <class F>
    struct body {
        template <class G>
        body(task_group* g, G&& f) : m_group{g}, m_fn(std::forward<G>(f)) {}
        void run() noexcept {
            try {
                m_fn();
            } catch (...) {
                m_group->record_exception(std::current_exception());
            }
        }
        task_group* finish_token() const noexcept { return m_group; }
        static void after(task_group* g) noexcept { g->child_done(); }

        task_group* m_group;
        F m_fn;
    };

    static constexpr std::uint32_t k_count_mask = 0x7fff'ffffU;

    void wait_slow();
    void block_until_done();
    void uncount(bool by_owner) noexcept;
    void rethrow_if_failed();

    template <class F>
    void run_inline(F& f) noexcept {
        try {
            f();
        } catch (...) {
            record_exception(std::current_exception());
        }
        --m_local;
    }

    detail::scheduler* m_sched;
    const detail::thread_context* m_owner;
    std::uint32_t m_local = 0;  // owner-only: children spawned minus children finished by the owner
    alignas(detail::k_cache_line) std::atomic<std::uint32_t> m_shared{0};
    std::atomic<std::uint32_t> m_error_taken{0};
    std::atomic<std::uint64_t> m_dropped{0};
    std::exception_ptr m_error;  // written once per round by the first failing child
};

template <class F>
void task_group::run(F&& f) {
    using fn_type = std::decay_t<F>;
    static_assert(std::is_invocable_v<fn_type&>, "weft::task_group::run: f must be callable as f()");
    if (detail::is_empty_callable(f))
        throw std::invalid_argument("weft::task_group::run: empty callable");
    using task_body = body<fn_type>;
    detail::thread_context& ctx = detail::this_context();
    const bool by_owner = &ctx == m_owner;
    // Counted before the task is published, so it cannot finish before it is counted.
    if (by_owner) [[likely]]
        ++m_local;
    else
        m_shared.fetch_add(2, std::memory_order_relaxed);  // relaxed: sequenced before
                                                           // this task's release in child_done
    try {
        if (detail::worker* w = m_sched->local_worker(ctx)) [[likely]] {
            if (by_owner && m_sched->should_run_inline(*w)) {
                run_inline(f);
                return;
            }
            detail::task_base* t = detail::make_task<task_body>(ctx, this, std::forward<F>(f));
            t->m_next = reinterpret_cast<detail::task_base*>(this);  // the tag wait() knows its children by
            m_sched->spawn(*w, t);
            return;
        }
        m_sched->inject<task_body>(ctx, this, std::forward<F>(f));
    } catch (...) {
        uncount(by_owner);
        throw;
    }
}

inline void task_group::child_done() noexcept { uncount(detail::tls_context == m_owner); }

inline void task_group::uncount(bool by_owner) noexcept {
    if (by_owner) {
        --m_local;
        return;
    }
    // release: publishes the child's effects to is_done()'s acquire load.
    const std::uint32_t old = m_shared.fetch_sub(2, std::memory_order_release);
    const std::uint32_t now = old - 2;
    if ((old & 1U) != 0 && ((now >> 1) & k_count_mask) == 0)
        detail::futex_wake_all(m_shared);  // the owner folded m_local in and is blocked
}

inline void task_group::wait() {
    if (detail::tls_context != m_owner)
        throw std::logic_error(
            "weft::task_group::wait must be called on the thread that created the group");
    if (!is_done()) wait_slow();
    if (m_error_taken.load(std::memory_order_relaxed) != 0) [[unlikely]]
        rethrow_if_failed();  // relaxed: ordered by is_done()'s acquire above
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
