// weft — the scheduler behind weft::executor: workers, their deques, the injection
// queue and the sleep protocol. Not API; the inline members are the hot paths that
// executor::post and task_group::run compile into the caller.
//
// The worker loop, narrated (lib/scheduler.cpp):
//   1. pop the own deque (LIFO); every k_inject_poll tasks, look at the injection
//      queue first so outside submissions cannot starve;
//   2. otherwise search: steal from random victims (one sweep from a random start),
//      then pop the injection queue, with growing pauses between rounds;
//   3. after k_search_rounds empty rounds, park on the sleep protocol, which re-checks
//      every queue after announcing itself, so no wake-up is lost.
#pragma once

#include <weft/detail/atomics.hpp>
#include <weft/detail/sleep_protocol.hpp>
#include <weft/detail/task.hpp>
#include <weft/detail/work_stealing_deque.hpp>

#include <boost/lockfree/queue.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifndef WEFT_INLINE_PER_WORKER
#define WEFT_INLINE_PER_WORKER 2
#endif

namespace weft {
class executor;
struct executor_options;
struct worker_stats;
}  // namespace weft

namespace weft::detail {

/// A counter written by one thread and read by any (stats): relaxed load + store.
class owner_counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        // relaxed: only the owning worker writes; readers want an approximate value.
        m_value.store(m_value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept {
        return m_value.load(std::memory_order_relaxed);  // relaxed: statistics
    }

private:
    std::atomic<std::uint64_t> m_value{0};
};

/// One worker thread's state. Cache-line aligned so neighbours do not share lines.
struct alignas(k_cache_line) worker {
    work_stealing_deque<task_base*> m_deque;

    // Owner-private block.
    alignas(k_cache_line) scheduler* m_sched = nullptr;
    std::size_t m_index = 0;
    std::uint32_t m_depth = 0;     // nesting of tasks run inside a wait
    std::uint32_t m_tick = 0;      // tasks taken since the injection queue was polled
    // The task this worker runs next, invisible to thieves (a "LIFO slot", after Tokio):
    // a continuation scheduled as its input completes at the very end of a task.
    task_base* m_next = nullptr;
    std::uint64_t m_rng = 0;       // xorshift state for victim selection
    std::string m_name;

    // Statistics: written by the owner only.
    owner_counter m_executed, m_stolen, m_steal_attempts, m_parks, m_injected;
};

using unhandled_handler = std::function<void(std::exception_ptr, std::string_view)>;

class scheduler {
public:
    explicit scheduler(executor& owner, const executor_options& options);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    /// The worker the calling thread is for this scheduler, or null.
    worker* local_worker(const thread_context& ctx) const noexcept {
        worker* w = ctx.m_worker;
        return w != nullptr && w->m_sched == this ? w : nullptr;
    }

    /// Pushes a task made on this scheduler's worker `w` onto its own deque.
    void spawn(worker& w, task_base* t) {
        w.m_deque.push(t);
        if (m_sleep.sleepers_hint()) [[unlikely]]
            m_sleep.notify_one();
    }

    /// Makes `t` the next task worker `w` runs, bypassing its deque (no fence, no
    /// thief can take it). Only for tasks scheduled at the very end of the running task,
    /// so nothing delays them; a task already in the slot moves to the deque.
    void spawn_next(worker& w, task_base* t) {
        if (task_base* older = std::exchange(w.m_next, t)) spawn(w, older);
    }

    /// True when worker `w` already has so many queued tasks that a new spawn is better
    /// run at once: idle workers have plenty to steal, and running it inline saves the
    /// push, the pop and its fence (after dispenso).
    bool should_run_inline(const worker& w) const noexcept {
        return w.m_deque.owner_size() > m_inline_threshold;
    }

    /// Outside submission: reserves a place in the injection queue (throwing
    /// executor_shutdown_error once shutdown has begun), makes the task `Body{args...}`,
    /// publishes it and wakes a worker if needed. Nothing is left reserved if making the
    /// task throws.
    template <class Body, class... Args>
    void inject(thread_context& ctx, Args&&... args) {
        begin_inject();
        task_base* t;
        try {
            t = make_task<Body>(ctx, std::forward<Args>(args)...);
        } catch (...) {
            cancel_inject();
            throw;
        }
        publish_injected(t);
    }

    /// Outside submission of a task made elsewhere (a future's state, which is its own
    /// task node). Throws executor_shutdown_error once shutdown has begun, and then the
    /// task is not queued: the caller still owns it.
    void inject_task(task_base* t) {
        begin_inject();
        publish_injected(t);
    }

    /// Runs tasks on worker `w` until `done()` holds (help-while-waiting), stealing only
    /// while the nesting depth is below the limit; blocks on `block(timeout)` when idle.
    template <class Done, class Block>
    void help_until(worker& w, Done&& done, Block&& block);

    std::size_t worker_count() const noexcept { return m_workers.size(); }
    std::vector<worker_stats> stats() const;
    executor& owner() const noexcept { return *m_owner; }

    /// Stops accepting outside work, drains everything, joins. Idempotent.
    void shutdown();
    bool is_shut_down() const noexcept {
        return (m_inject_state.load(std::memory_order_acquire) & k_stop_bit) != 0;  // acquire: pairs with shutdown()
    }

    /// Reports an exception that escaped a posted task.
    void report_unhandled(const std::exception_ptr& e, std::string_view where) noexcept;

    task_base* find_help_task(worker& w);
    void run_task(worker& w, task_base* t) noexcept {
        w.m_executed.add();
        t->m_invoke(t);
    }

    static constexpr std::uint32_t k_max_help_depth = 128;

private:
    static constexpr std::uint64_t k_stop_bit = 1;
    static constexpr std::uint32_t k_inject_poll = 61;
    static constexpr std::uint32_t k_inject_batch = 16;
    static constexpr std::size_t k_inline_per_worker = WEFT_INLINE_PER_WORKER;
    static constexpr int k_search_rounds = 64;

    void begin_inject() {
        // seq_cst: the reservation is what a parking worker's re-check reads, and it
        // is ordered with shutdown()'s setting of the stop bit (same location).
        const std::uint64_t state = m_inject_state.fetch_add(2, std::memory_order_seq_cst);
        if (state & k_stop_bit) [[unlikely]]
            reject_inject();
    }
    void cancel_inject() noexcept {
        // relaxed: a stale reservation only delays a worker's decision to sleep or exit.
        m_inject_state.fetch_sub(2, std::memory_order_relaxed);
    }
    void publish_injected(task_base* t) {
        while (!m_injection.push(t)) cpu_relax();  // only fails when out of memory
        m_sleep.notify_if_no_searcher();
    }
    [[noreturn]] void reject_inject();
    void stop_and_join() noexcept;
    void worker_main(worker& w);
    task_base* next_task(worker& w);
    task_base* search_or_park(worker& w);
    task_base* steal_sweep(worker& w);
    task_base* pop_injection(worker& w);
    bool has_visible_work() const noexcept;
    bool stop_requested() const noexcept;
    std::uint64_t injected_pending() const noexcept;

    executor* m_owner;
    std::int64_t m_inline_threshold = 0;
    std::vector<std::unique_ptr<worker>> m_workers;
    std::vector<std::thread> m_threads;
    unhandled_handler m_handler;
    boost::lockfree::queue<task_base*> m_injection{1024};
    // bit 0: stop requested; bits 1..: tasks reserved or queued in m_injection.
    alignas(k_cache_line) std::atomic<std::uint64_t> m_inject_state{0};
    sleep_protocol<> m_sleep;
    std::once_flag m_join_once;
};

/// The worker the calling thread is, on any scheduler, or null.
inline worker* current_worker() noexcept {
    thread_context* c = tls_context;
    return c != nullptr ? c->m_worker : nullptr;
}

/// Reports an exception escaping a posted task to its executor's handler.
void report_unhandled_exception(std::exception_ptr e) noexcept;

/// Body of a posted task: exceptions go to the executor's handler.
template <class F>
struct posted_body {
    template <class G>
    explicit posted_body(G&& g) : m_fn(std::forward<G>(g)) {}
    void run() noexcept {
        try {
            m_fn();
        } catch (...) {
            report_unhandled_exception(std::current_exception());
        }
    }
    struct token {};
    token finish_token() const noexcept { return {}; }
    static void after(token) noexcept {}
    F m_fn;
};

void spin_backoff(std::uint32_t round) noexcept;

template <class Done, class Block>
void scheduler::help_until(worker& w, Done&& done, Block&& block) {
    std::uint32_t idle_rounds = 0;
    while (!done()) {
        if (task_base* t = find_help_task(w)) {
            ++w.m_depth;
            run_task(w, t);
            --w.m_depth;
            idle_rounds = 0;
            continue;
        }
        if (idle_rounds < k_search_rounds) {
            spin_backoff(idle_rounds++);
            continue;
        }
        block();  // bounded: returns to look for work again
    }
}

}  // namespace weft::detail
