// weft — one submitted call of a thread_pool_executor: the future's shared state, the
// queue item and the callable with its arguments, in one allocation. Not API.
//
// References: the returned future holds one, the queue one (dropped when the pool has
// run, cancelled or failed the item).
//
// The callable and its arguments live in the same allocation but not as long: they are
// destroyed by whoever ends the call -- right after it returns or throws and before its
// result is published, or when the pool cancels or fails the item -- so a capture never
// outlives the call (as with weft::async) although the future may.
//
// A posted call (thread_pool_executor::post) is a pool_post_item: the callable and the
// queue item, no future state; it is freed as soon as the call ends.
//
// Thread safety: internal; driven by the pool (thread_pool_core.hpp) and the state
// protocol of shared_state.hpp.
#pragma once

#include <weft/detail/future_continuations.hpp>
#include <weft/detail/shared_state.hpp>
#include <weft/detail/task.hpp>
#include <weft/detail/thread_pool_core.hpp>
#include <weft/errors.hpp>
#include <weft/future.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft::detail {

/// What a call of `F` with decayed `Args` leaves in its future: the result without
/// references or cv-qualifiers (futures hold values), or void.
template <class F, class... Args>
using pool_result_t = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;

template <class R, class F, class... Args>
class pool_task final : public shared_state<R>, public pool_item {
public:
    template <class G, class... A>
    explicit pool_task(const thread_pool_core* core, G&& fn, A&&... args)
        : shared_state<R>(core->sink_id(), 2, 1), m_core{core},
          m_call{std::in_place, std::forward<G>(fn), std::forward<A>(args)...} {
        m_op = &operate;  // two references: the future's and the queue's
    }

    /// A thread of this pool that waits for this item while it is still queued runs it
    /// itself (so result() inside a task cannot wait for a thread it occupies); the
    /// queue's entry then finds it started and only drops its reference.
    bool try_claim() noexcept override {
        if (!pool_claim_begin(m_core)) return false;
        const bool started = this->try_start() == start_result::started;
        if (started) run_started();
        pool_claim_end();
        return started;
    }

private:
    static void operate(pool_item* item, pool_item_op op) noexcept {
        auto* self = static_cast<pool_task*>(item);
        // The queue's entry owns m_call unless a waiter claimed the call (try_claim):
        // the claimer won try_start() and ends the call itself.
        switch (op) {
            case pool_item_op::run: self->run(); break;
            case pool_item_op::cancel:
                // cancel() is true when nobody started the call (it was pending, or the
                // user cancelled it): nobody else touches m_call any more.
                if (self->cancel()) self->m_call.reset();
                break;
            case pool_item_op::fail_broken:
                // set_running_or_notify_cancel() first, so a future the user cancelled
                // meanwhile stays cancelled (Python would raise InvalidStateError).
                switch (self->try_start()) {
                    case start_result::started:
                        self->m_call.reset();  // before the failure is published
                        self->try_fail(std::make_exception_ptr(broken_thread_pool(k_broken_initializer_message)));
                        break;
                    case start_result::cancelled: self->m_call.reset(); break;
                    case start_result::unexpected: break;  // claimed
                }
                break;
        }
        self->release();  // the queue's reference
    }

    void run() noexcept {
        // Python's _WorkItem.run: a future cancelled while queued is skipped. Once
        // started, nothing else can complete the state (no promise exists, cancel() acts
        // only on pending, shutdown drains only what is still queued), so the runner
        // publishes without the CAS to `completing`.
        switch (this->try_start()) {
            case start_result::started: run_started(); break;
            case start_result::cancelled: m_call.reset(); break;  // cancelled while queued
            case start_result::unexpected: break;                 // claimed
        }
    }

    /// Only by the thread that won try_start(). The captures go before the result is
    /// published: a waiter that sees the result sees them destroyed.
    void run_started() noexcept {
        try {
            if constexpr (std::is_void_v<R>) {
                call();
                m_call.reset();
                pool_thread_finishing();
                this->set_value_as_runner();
            } else {
                R r = call();
                m_call.reset();
                pool_thread_finishing();
                this->set_value_as_runner(std::move(r));
            }
        } catch (...) {
            m_call.reset();
            pool_thread_finishing();
            this->fail_as_runner(std::current_exception());
        }
    }

    R call() {
        return std::apply([](F& fn, Args&... a) -> R { return std::invoke(std::move(fn), std::move(a)...); },
                          *m_call);
    }

    const thread_pool_core* m_core;
    std::optional<std::tuple<F, Args...>> m_call;  // engaged until the call ends
};

/// One posted call: the queue item and the callable, freed as soon as the call ends
/// (or the pool drops it: shutdown with cancel_futures, a broken pool).
template <class F>
class pool_post_item final : public pool_item {
public:
    template <class G>
    explicit pool_post_item(G&& fn) : m_fn(std::forward<G>(fn)) {
        m_op = &operate;
    }

    // The task pool's size classes, as future states (no malloc once warm).
    static void* operator new(std::size_t size) { return allocate_pooled(size); }
    static void operator delete(void* p, std::size_t size) noexcept { release_pooled(p, size); }
    static void* operator new(std::size_t size, std::align_val_t al) { return ::operator new(size, al); }
    static void operator delete(void* p, std::align_val_t al) noexcept { ::operator delete(p, al); }

private:
    static void operate(pool_item* item, pool_item_op op) noexcept {
        auto* self = static_cast<pool_post_item*>(item);
        if (op != pool_item_op::run) {
            delete self;  // dropped: nobody waits for a posted call
            return;
        }
        try {
            static_cast<void>(std::invoke(std::move(self->m_fn)));
        } catch (...) {
            report_posted_call_exception(std::current_exception());
        }
        delete self;
        pool_thread_finishing();
    }

    F m_fn;
};

/// Submits `fn(args...)` to `core`; see thread_pool_executor::submit().
template <class F, class... Args>
auto pool_submit(thread_pool_core& core, F&& fn, Args&&... args) {
    using fn_type = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<fn_type, std::decay_t<Args>...>) {
        // One error, naming the public function; nothing below is instantiated.
        static_assert(std::is_invocable_v<fn_type, std::decay_t<Args>...>,
                      "weft::thread_pool_executor::submit: fn cannot be called as fn(args...) with decayed "
                      "copies of these arguments");
        return future<void>{};
    } else {
        using result_type = pool_result_t<F, Args...>;
        if (is_empty_callable(fn)) throw std::invalid_argument("weft::thread_pool_executor::submit: empty callable");
        using task_type = pool_task<result_type, fn_type, std::decay_t<Args>...>;
        auto* task = new task_type(&core, std::forward<F>(fn), std::forward<Args>(args)...);
        try {
            core.submit(task);
        } catch (...) {
            delete task;  // never queued: we hold both references
            throw;
        }
        return future_access::adopt<result_type>(task);  // the constructor counted the future's reader reference
    }
}

/// Posts `fn()` to `core`; see thread_pool_executor::post().
template <class F>
void pool_post(thread_pool_core& core, F&& fn) {
    using fn_type = std::decay_t<F>;
    static_assert(std::is_invocable_v<fn_type>,
                  "weft::thread_pool_executor::post: f must be callable with no arguments");
    if constexpr (std::is_invocable_v<fn_type>) {  // no follow-on errors after the assertion
        if (is_empty_callable(fn)) throw std::invalid_argument("weft::thread_pool_executor::post: empty callable");
        auto* item = new pool_post_item<fn_type>(std::forward<F>(fn));
        try {
            core.submit(item, "post");
        } catch (...) {
            delete item;  // never queued
            throw;
        }
    }
}

}  // namespace weft::detail
