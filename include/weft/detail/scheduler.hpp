// weft — the scheduler behind weft::executor: workers, their deques, the injection
// queue, the sleep protocol and the spare workers that keep its parallelism while
// workers block. Not API; the inline members are the hot paths that executor::post and
// task_group::run compile into the caller.
//
// The worker loop, narrated (lib/scheduler.cpp):
//   1. run the next-task slot, else pop the own deque (LIFO); every k_inject_poll tasks,
//      look at the injection queue first so outside submissions cannot starve;
//   2. otherwise search: steal from random victims (one sweep from a random start),
//      then pop the injection queue, with growing pauses between rounds;
//   3. after k_search_rounds empty rounds, park on the sleep protocol, which re-checks
//      every queue after announcing itself, so no wake-up is lost. A spare worker that
//      is not needed any more retires instead.
//
// Waiting (docs/design/scheduler.md, "Waiting"): a waiter runs only what it awaits. A
// worker that finds nothing it may run blocks inside a block_scope, which keeps the
// executor's parallelism: while fewer than `workers` threads are unblocked, a spare
// worker is started (at most max_spare_workers of them).
#pragma once

#include <weft/detail/atomics.hpp>
#include <weft/detail/mpmc_queue.hpp>
#include <weft/detail/sleep_protocol.hpp>
#include <weft/detail/task.hpp>
#include <weft/detail/task_sink.hpp>
#include <weft/detail/work_stealing_deque.hpp>

#include <atomic>
#include <chrono>
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

/// A thread started with a chosen stack size (std::thread cannot set one). Owner-only.
class native_thread {
public:
    native_thread() = default;
    native_thread(native_thread&& o) noexcept
        : m_handle{std::exchange(o.m_handle, 0)}, m_started{std::exchange(o.m_started, false)} {}
    native_thread& operator=(native_thread&& o) noexcept {
        std::swap(m_handle, o.m_handle);
        std::swap(m_started, o.m_started);
        return *this;
    }
    ~native_thread();  // a joinable thread here is a bug: terminates, as std::thread does

    /// Starts `fn(arg)` on a new thread with `stack_size` bytes of stack (0: the
    /// system's default). Throws std::system_error if the thread cannot be made.
    void start(void (*fn)(void*), void* arg, std::size_t stack_size);
    bool joinable() const noexcept { return m_started; }
    void join() noexcept;

private:
    unsigned long m_handle = 0;  // pthread_t
    bool m_started = false;
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
    // a continuation scheduled as its input completes at the very end of a task that the
    // worker loop itself runs (depth 0). Emptied onto the deque before any block.
    task_base* m_next = nullptr;
    std::uint64_t m_rng = 0;       // xorshift state for victim selection
    bool m_spare = false;          // a spare: retires when the executor has enough workers
    std::string m_name;

    // Statistics: written by the owner only.
    owner_counter m_executed, m_stolen, m_steal_attempts, m_parks, m_injected, m_blocked,
        m_spares_started;

    // Written under the scheduler's m_spare_mutex only.
    native_thread m_thread;
    bool m_in_use = false;  // a thread runs (or is about to run) this slot
};

using unhandled_handler = std::function<void(std::exception_ptr, std::string_view)>;

/// The calling thread's inline continuations (future::then_inline): nesting depth and
/// the FIFO of those deferred past k_max_inline_depth, linked through task_base::m_next.
struct inline_trampoline {
    std::uint32_t m_depth = 0;
    task_base* m_head = nullptr;
    task_base* m_tail = nullptr;
};
inline constinit thread_local inline_trampoline tls_trampoline{};

class scheduler final : public task_sink {
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

    /// A number no other scheduler of this process ever has (futures name their
    /// scheduler by it, so a future that outlives its executor can tell).
    std::uint64_t id() const noexcept { return m_id; }

    /// Pushes a task made on this scheduler's worker `w` onto its own deque.
    void spawn(worker& w, task_base* t) {
        w.m_deque.push(t);
        m_sleep.notify_after_spawn();  // right after the push: it starts with the light barrier
    }

    /// Makes `t` the next task worker `w` runs, bypassing its deque (no fence, no
    /// thief can take it). Only for tasks scheduled at the very end of a task the worker
    /// loop runs, so nothing delays them; a task already in the slot moves to the deque.
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

    /// task_sink: a task scheduled from a thread that is not one of this scheduler's
    /// workers (inject_task), and the report of a done-callback's exception.
    void accept(task_base* t) override { inject_task(t); }
    void report_exception(const std::exception_ptr& e, std::string_view where) noexcept override {
        report_unhandled(e, where);
    }

    /// Outside submission of a task made elsewhere (a future's state, which is its own
    /// task node). Throws executor_shutdown_error once shutdown has begun, and then the
    /// task is not queued: the caller still owns it.
    void inject_task(task_base* t) {
        begin_inject();
        publish_injected(t);
    }

    /// Pops the top of `w`'s own deque if it carries `tag` (task_base::m_next of a
    /// queued task: the task_group of a group's child). A task with another tag is put
    /// back: a waiter runs only what it awaits.
    bool pop_own_tagged(worker& w, const void* tag, task_base*& out) {
        if (!w.m_deque.pop(out)) return false;
        if (out->m_next == tag) return true;
        spawn(w, out);
        return false;
    }

    /// Runs `t` on worker `w` nested inside a wait.
    void run_nested(worker& w, task_base* t) noexcept {
        ++w.m_depth;
        run_task(w, t);
        --w.m_depth;
    }

    /// Worker `w` is about to block: its next-task slot and the thread's deferred inline
    /// continuations go to its deque, where others can steal them; a sleeper is woken
    /// for them; a spare worker starts if fewer than `workers` threads stay unblocked.
    void begin_block(worker& w) noexcept;
    /// A worker that called begin_block() no longer blocks.
    void end_block() noexcept;

    std::size_t worker_count() const noexcept { return m_parallelism; }
    /// Times a blocking worker found max_spare_workers spares already running.
    std::uint64_t spare_cap_hits() const noexcept;
    /// Worker threads alive now, spares included (a snapshot).
    std::size_t live_threads() const noexcept;
    std::vector<worker_stats> stats() const;
    executor& owner() const noexcept { return *m_owner; }

    /// Stops accepting outside work, drains everything, joins. Idempotent.
    void shutdown();
    bool is_shut_down() const noexcept {
        return (m_inject_state.load(std::memory_order_acquire) & k_stop_bit) != 0;  // acquire: pairs with shutdown()
    }

    /// Reports an exception that escaped a posted task.
    void report_unhandled(const std::exception_ptr& e, std::string_view where) noexcept;

    void run_task(worker& w, task_base* t) noexcept {
        w.m_executed.add();
        t->m_invoke(t);
    }

private:
    static constexpr std::uint64_t k_stop_bit = 1;
    static constexpr std::uint32_t k_inject_poll = 61;
    static constexpr std::uint32_t k_inject_batch = 16;
    static constexpr std::size_t k_inline_per_worker = WEFT_INLINE_PER_WORKER;
    static constexpr int k_search_rounds = 64;
    // A parked spare wakes this often to see whether it can retire.
    static constexpr std::chrono::milliseconds k_spare_idle{100};
    // m_threads: bits 0-31 workers blocked in a wait, bits 32-63 worker threads alive.
    static constexpr std::uint64_t k_one_live = std::uint64_t{1} << 32;

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
    static void thread_entry(void* slot) noexcept;
    void worker_main(worker& w);
    task_base* next_task(worker& w);
    task_base* search_or_park(worker& w);
    task_base* steal_sweep(worker& w);
    task_base* pop_injection(worker& w);
    bool has_visible_work() const noexcept;
    bool stop_requested() const noexcept;
    std::uint64_t injected_pending() const noexcept;
    void start_spare(worker& starter) noexcept;
    std::unique_ptr<worker> make_worker(std::size_t index);
    bool try_retire() noexcept;
    std::size_t slot_count() const noexcept {
        return m_slot_count.load(std::memory_order_acquire);  // acquire: pairs with start_spare's release
    }
    worker& slot(std::size_t i) const noexcept { return *m_slots[i]; }

    executor* m_owner;
    std::uint64_t m_id = 0;  // the sink id (register_sink)
    std::size_t m_parallelism;
    std::size_t m_max_slots;
    std::size_t m_stack_size;
    std::string m_prefix;
    std::int64_t m_inline_threshold = 0;
    // Slots 0..workers-1 are the workers; spares take the others, made on first use and
    // kept (empty when retired) until the scheduler dies, so thieves never see one go.
    std::unique_ptr<std::unique_ptr<worker>[]> m_slots;
    alignas(k_cache_line) std::atomic<std::size_t> m_slot_count{0};
    alignas(k_cache_line) std::atomic<std::uint64_t> m_threads{0};
    std::mutex m_spare_mutex;  // slot creation, thread start and join
    std::atomic<std::uint64_t> m_spare_cap_hits{0};
    unhandled_handler m_handler;
    mpmc_queue_of<task_base*> m_injection{1024};
    // bit 0: stop requested; bits 1..: tasks reserved or queued in m_injection.
    alignas(k_cache_line) std::atomic<std::uint64_t> m_inject_state{0};
    sleep_protocol<std_atomics, spawn_wake::asymmetric_fence> m_sleep;
    std::once_flag m_join_once;
};

/// Marks the calling thread as blocked for its lifetime if it is a worker (of any
/// executor: whatever it waits for, its executor loses it meanwhile); see begin_block. Off a worker, runs the
/// thread's deferred inline continuations first (nobody else can). Owner-only.
class block_scope {
public:
    block_scope() noexcept;
    ~block_scope();
    block_scope(const block_scope&) = delete;
    block_scope& operator=(const block_scope&) = delete;

private:
    worker* m_worker = nullptr;
};

/// Runs the calling thread's deferred inline continuations now.
void drain_trampoline() noexcept;

/// this_worker::blocking's scope, out of line (this_worker.hpp stays light).
void* blocking_enter() noexcept;
void blocking_leave(void* scope) noexcept;

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

}  // namespace weft::detail
