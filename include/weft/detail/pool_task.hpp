// weft — one submitted call of a thread_pool_executor: the future's shared state, the
// queue item and the callable with its arguments, in one allocation. Not API.
//
// References: the returned future holds one, the queue one (dropped when the pool has
// run, cancelled or failed the item).
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

#include <exception>
#include <functional>
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
        : shared_state<R>(nullptr, 2), m_core{core}, m_fn(std::forward<G>(fn)), m_args(std::forward<A>(args)...) {
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
        switch (op) {
            case pool_item_op::run: self->run(); break;
            case pool_item_op::cancel: self->cancel(); break;
            case pool_item_op::fail_broken:
                // set_running_or_notify_cancel() first, so a future the user cancelled
                // meanwhile stays cancelled (Python would raise InvalidStateError).
                if (self->try_start() == start_result::started)
                    self->try_fail(std::make_exception_ptr(broken_thread_pool(k_broken_initializer_message)));
                break;
        }
        self->release();  // the queue's reference
    }

    void run() noexcept {
        // Python's _WorkItem.run: a future cancelled while queued is skipped. Once
        // started, nothing else can complete the state (no promise exists, cancel() acts
        // only on pending, shutdown drains only what is still queued), so the runner
        // publishes without the CAS to `completing`.
        if (this->try_start() != start_result::started) return;
        run_started();
    }

    void run_started() noexcept {
        try {
            if constexpr (std::is_void_v<R>) {
                std::apply([this](auto&... a) { std::invoke(std::move(m_fn), std::move(a)...); }, m_args);
                pool_thread_finishing();
                this->set_value_as_runner();
            } else {
                R r = std::apply([this](auto&... a) -> R { return std::invoke(std::move(m_fn), std::move(a)...); },
                                 m_args);
                pool_thread_finishing();
                this->set_value_as_runner(std::move(r));
            }
        } catch (...) {
            pool_thread_finishing();
            this->fail_as_runner(std::current_exception());
        }
    }

    const thread_pool_core* m_core;
    F m_fn;
    std::tuple<Args...> m_args;
};

/// Submits `fn(args...)` to `core`; see thread_pool_executor::submit().
template <class F, class... Args>
future<pool_result_t<F, Args...>> pool_submit(thread_pool_core& core, F&& fn, Args&&... args) {
    using fn_type = std::decay_t<F>;
    static_assert(std::is_invocable_v<fn_type, std::decay_t<Args>...>,
                  "weft::thread_pool_executor::submit: fn cannot be called with these arguments");
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
    return future_access::make<result_type>(state_ptr<shared_state<result_type>>{task});
}

}  // namespace weft::detail
