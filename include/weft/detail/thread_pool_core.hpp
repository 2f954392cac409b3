// weft — the machinery behind weft::thread_pool_executor: lazily started threads, one
// FIFO queue, idle credits, parking, shutdown and the process-exit hook. Not API.
//
// After CPython's ThreadPoolExecutor, without its lock on the submit path:
//
//   submit (any thread)                     pool thread
//   -------------------                     -----------
//   reserve: m_state += k_submitter         [initializer, once]
//     (rejects if broken/stopped/exiting)   loop: pop an item -> run it
//   take an idle credit (m_idle--)            nothing queued: take an idle credit
//   m_queued++ ; push item                    (m_idle++), spin, then park on the
//   no credit: start a thread while fewer     sleep protocol (re-checks m_queued
//     than max_workers                        and the stop bits after announcing)
//   wake a parked thread if none searches
//   release: m_state -= k_submitter         exit once stopped, no submitter in
//                                             flight and nothing queued
//
// shutdown() sets k_stop and waits until no submitter is in flight: from then on
// nothing enters the queue and the list of threads is final, so cancel_futures can
// drain it completely and joining needs no lock against submitters.
//
// Idle credits are Python's _idle_semaphore: a submit that takes one starts no thread.
// A thread counts itself idle as soon as its task's result is computed and the queue
// is empty -- before the result is published -- so `submit(f).result()` in a loop
// reuses one thread deterministically (B5).
//
// fork(): the child has none of the parent's threads. pthread_atfork handlers (installed
// with the exit hook) hold the registry's mutex and every live pool's m_threads_mutex
// across the fork, so the child sees the list of threads whole; there every inherited
// pool is stopped for good (k_forked: submit refuses), its submitter count is cleared
// (those submitters stay in the parent), its threads are forgotten without a join and
// its queue is never touched again (m_queued = 0: an item copied from the parent runs
// in the parent only; its future does not complete in the child).
//
// Thread safety: thread-safe, except where a member says who may call it.
#pragma once

#include <weft/detail/atomics.hpp>
#include <weft/detail/mpmc_queue.hpp>
#include <weft/detail/sleep_protocol.hpp>
#include <weft/detail/task_sink.hpp>

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
#include <vector>

namespace weft::detail {

/// What a pool does with one queued item. Each operation ends the item's life.
enum class pool_item_op {
    run,          // set running (unless cancelled), call, store the result
    cancel,       // shutdown(cancel_futures=true): cancel its future
    fail_broken,  // the pool broke: fail its future with broken_thread_pool
};

/// A queued unit of work: one function pointer; the derived object holds the rest.
struct pool_item {
    using op_fn = void (*)(pool_item* self, pool_item_op op) noexcept;
    op_fn m_op = nullptr;
};

/// The message of the broken_thread_pool a broken pool throws and fails queued calls
/// with: the public name, then Python's BrokenThreadPool text.
inline constexpr const char* k_broken_initializer_message =
    "weft::thread_pool_executor: A thread initializer failed, the thread pool is not usable anymore";

/// Called by an item between computing its result and publishing it: a pool thread
/// about to become idle takes its idle credit now (see the file comment). No-op off a
/// pool thread or inside a nested run (an item claimed by a waiting call).
void pool_thread_finishing() noexcept;

class thread_pool_core final : public task_sink {
public:
    thread_pool_core(int max_workers, std::string prefix, std::function<void()> initializer);
    ~thread_pool_core();
    thread_pool_core(const thread_pool_core&) = delete;
    thread_pool_core& operator=(const thread_pool_core&) = delete;

    /// Queues `item` (the pool then owns it) and makes sure a thread will run it.
    /// Throws broken_thread_pool or executor_shutdown_error (inherited by a forked child,
    /// own shutdown, then process exit) without queueing: the caller still owns `item`.
    /// A thread that cannot be started is reported on stderr; the item waits for a
    /// thread (or for shutdown). `caller` names the public member in the refusal's
    /// message ("weft::thread_pool_executor::<caller>: ...").
    void submit(pool_item* item, const char* caller = "submit");

    /// Python's shutdown(wait, cancel_futures). Throws std::runtime_error("weft::
    /// thread_pool_executor::shutdown: cannot join current thread") when `wait` is asked
    /// for from one of this pool's threads, after the pool is stopped (and, with
    /// `cancel_futures`, its queue cancelled).
    void shutdown(bool wait, bool cancel_futures);

    /// The process-exit hook's part: stop accepting work (with the interpreter-shutdown
    /// message), let the queue run out, join every thread but the caller's own.
    void begin_exit() noexcept;
    void join_threads(bool skip_self) noexcept;

    /// The pthread_atfork handlers' part, in the forking thread: before the fork, lock
    /// m_threads_mutex (the list of threads is then whole); after it, unlock it in the
    /// parent, or reset the pool in the child (see the file comment) and unlock it.
    void fork_prepare() noexcept;
    void fork_parent() noexcept;
    void fork_child() noexcept;

    /// True if the calling thread is one of this pool's threads.
    bool is_own_thread() const noexcept;

    /// task_sink (lib/pool_sink.cpp): a future continuation queued on this pool (then()
    /// on a pool future), and the report of a done-callback's exception.
    void accept(task_base* t) override;
    void report_exception(const std::exception_ptr& e, std::string_view where) noexcept override;
    /// The id futures name this pool by (register_sink).
    std::uint64_t sink_id() const noexcept { return m_sink_id; }

    int max_workers() const noexcept { return m_max_workers; }
    /// Threads started so far (Python's len(executor._threads)).
    std::size_t thread_count() const noexcept {
        return m_thread_count.load(std::memory_order_relaxed);  // relaxed: a snapshot
    }
    const std::string& thread_name_prefix() const noexcept { return m_prefix; }
    bool is_shut_down() const noexcept;
    bool is_broken() const noexcept;

private:
    // m_state: bit 0 broken, bit 1 shut down, bit 2 process exit, bit 3 inherited by a
    // forked child (set with k_stop); bits 4..: submitters between their reservation
    // and their release.
    static constexpr std::uint64_t k_broken = 1;
    static constexpr std::uint64_t k_stop = 2;
    static constexpr std::uint64_t k_exit = 4;
    static constexpr std::uint64_t k_forked = 8;
    static constexpr std::uint64_t k_flags = 15;
    static constexpr std::uint64_t k_submitter = 16;
    static constexpr int k_spin_rounds = 48;

    [[noreturn]] void reject(std::uint64_t state, const char* caller);
    [[noreturn]] static void throw_refusal(std::uint64_t state, const char* caller);
    bool take_idle_credit() noexcept;
    void start_thread_if_below_max();
    void start_thread();
    void worker_main(std::size_t index);
    void worker_loop();
    void on_initializer_failure() noexcept;
    void run_popped(pool_item* item) noexcept;
    pool_item* try_pop() noexcept;
    bool has_work_or_stop() const noexcept;
    bool may_exit() const noexcept;
    bool is_forked_copy() const noexcept;
    void wait_for_submitters() const noexcept;
    void drain(pool_item_op op) noexcept;

    friend void pool_thread_finishing() noexcept;

    int m_max_workers;
    std::uint64_t m_sink_id = 0;  // set in the constructor, unregistered first thing in the destructor
    std::string m_prefix;
    std::function<void()> m_initializer;

    // Shared, written by submitters, shutdown and the threads.
    alignas(k_cache_line) std::atomic<std::uint64_t> m_state{0};
    alignas(k_cache_line) std::atomic<std::int64_t> m_queued{0};  // pushed, not yet popped
    alignas(k_cache_line) std::atomic<std::int64_t> m_idle{0};    // idle credits
    alignas(k_cache_line) std::atomic<std::size_t> m_thread_count{0};
    mpmc_queue_of<pool_item*> m_queue{256};
    sleep_protocol<> m_sleep;

    // The vector is written under m_threads_mutex only (by submitters that start a
    // thread, and by the forked child's reset); once no submitter can be in flight it is
    // final, and joiners join its elements under m_join_mutex alone, so that a fork from
    // a pool thread never waits for a join that waits for that thread.
    std::mutex m_threads_mutex;
    std::mutex m_join_mutex;  // one joiner at a time (std::thread::join is not thread-safe)
    std::vector<std::thread> m_threads;
};

/// A thread of `core` that waits for one of its queued items runs it itself (the item is
/// claimed through its future's state word): pool_claim_begin() returns false off
/// `core`'s threads; otherwise the run is nested until pool_claim_end().
bool pool_claim_begin(const thread_pool_core* core) noexcept;
void pool_claim_end() noexcept;

/// The full name of the calling pool thread (`<prefix>_<i>`), or "" off a pool thread.
std::string_view current_pool_thread_name() noexcept;

/// Reports on stderr an exception that escaped a posted call
/// ("weft: thread_pool_executor: exception in a posted call: <what>"). Thread-safe.
void report_posted_call_exception(const std::exception_ptr& e) noexcept;

/// Registers `core` for the process-exit hook and the fork handlers (installing both on
/// first use).
void register_pool(const std::shared_ptr<thread_pool_core>& core);
/// min(32, CPUs in the process's affinity mask + 4).
int default_max_workers() noexcept;
/// The next k of `ThreadPoolExecutor-<k>` (taken only by pools built without a prefix).
std::string default_thread_name_prefix();

}  // namespace weft::detail
