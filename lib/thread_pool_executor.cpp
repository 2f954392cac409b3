// weft — thread_pool_executor: the pool's threads, queue, shutdown and process-exit hook.
// The protocol is narrated in include/weft/detail/thread_pool_core.hpp.
#include <weft/detail/scheduler.hpp>
#include <weft/detail/shared_state.hpp>
#include <weft/detail/thread_pool_core.hpp>
#include <weft/errors.hpp>
#include <weft/thread_pool_executor.hpp>

#include "thread_support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sched.h>
#endif
#if __has_include(<pthread.h>)
#include <pthread.h>
#define WEFT_POOL_HAS_PTHREAD_ATFORK 1
#else
#define WEFT_POOL_HAS_PTHREAD_ATFORK 0
#endif

namespace weft::detail {
namespace {

/// What a pool thread knows about itself; lives on its stack.
struct pool_thread_info {
    thread_pool_core* m_core = nullptr;
    std::string m_name;
    std::uint32_t m_depth = 0;  // items run nested inside a wait (claimed by a waiter)
    bool m_credited = false;    // holds an idle credit it took itself
};

constinit thread_local pool_thread_info* tls_pool_thread = nullptr;

void report(const char* what, const std::exception_ptr& e) noexcept {
    try {
        if (const std::optional<std::string> text = exception_what(e))
            std::fprintf(stderr, "weft: thread_pool_executor: %s: %s\n", what, text->c_str());
        else
            std::fprintf(stderr, "weft: thread_pool_executor: %s (not a std::exception)\n", what);
    } catch (...) {
        std::fprintf(stderr, "weft: thread_pool_executor: %s\n", what);
    }
}

/// Ends `value`'s use without running its destructor: it is moved into storage that is
/// never destroyed. For objects a forked child inherited whose destructor would act on
/// something that stayed in the parent (a std::thread would join or terminate).
template <class T>
void forget(T& value) noexcept {
    alignas(T) std::byte grave[sizeof(T)];
    ::new (static_cast<void*>(grave)) T(std::move(value));
}

/// Live pools, for the process-exit hook and the fork handlers. Never destroyed: the
/// hook may run after other statics are gone.
struct pool_registry {
    std::mutex m_mutex;
    std::vector<std::weak_ptr<thread_pool_core>> m_pools;
    bool m_exiting = false;
    // Between the fork handlers (under m_mutex): the pools whose m_threads_mutex the
    // forking thread holds.
    std::vector<std::shared_ptr<thread_pool_core>> m_forking;
    // In a forked child: the pools it inherited, kept (and so never destroyed: their
    // queues may hold operations the parent's threads left half done) but unlisted.
    std::vector<std::shared_ptr<thread_pool_core>> m_inherited;
};

pool_registry& registry() {
    static pool_registry* r = new pool_registry;
    return *r;
}

/// Python's _python_exit: no new work anywhere, every pool finishes its queue, joined.
void exit_hook() noexcept {
    std::vector<std::shared_ptr<thread_pool_core>> live;
    {
        pool_registry& r = registry();
        std::lock_guard lock{r.m_mutex};
        r.m_exiting = true;
        for (const auto& w : r.m_pools)
            if (auto p = w.lock()) live.push_back(std::move(p));
        r.m_pools.clear();
    }
    for (const auto& p : live) p->begin_exit();
    for (const auto& p : live) p->join_threads(/*skip_self=*/true);
}

#if WEFT_POOL_HAS_PTHREAD_ATFORK
// The pthread_atfork handlers. Between them the forking thread holds the registry's
// mutex and every live pool's m_threads_mutex, so the child inherits both whole (no
// thread of the parent was halfway through them). Lock order: the sink registry (whose
// handlers run these), this registry, then the pools.
// The child's handler allocates and frees nothing (an allocator lock another thread
// held at the fork stays locked there): the memory it needs is reserved here.
void before_fork() noexcept {
    pool_registry& r = registry();
    r.m_mutex.lock();
    std::erase_if(r.m_pools, [](const auto& w) { return w.expired(); });  // frees nothing in the child
    try {
        r.m_forking.reserve(r.m_pools.size());
        r.m_inherited.reserve(r.m_inherited.size() + r.m_pools.size());
    } catch (...) {
        return;  // out of memory: the child then resets no pool (its exit may hang)
    }
    for (const auto& w : r.m_pools)
        if (auto p = w.lock()) r.m_forking.push_back(std::move(p));
    for (const auto& p : r.m_forking) p->fork_prepare();
}

void after_fork_in_parent() noexcept {
    pool_registry& r = registry();
    for (const auto& p : r.m_forking) p->fork_parent();
    // Dropped after the unlock: a reference held here may be a pool's last.
    std::vector<std::shared_ptr<thread_pool_core>> held;
    held.swap(r.m_forking);
    r.m_mutex.unlock();
}

void after_fork_in_child() noexcept {
    pool_registry& r = registry();
    for (auto& p : r.m_forking) {
        p->fork_child();
        r.m_inherited.push_back(std::move(p));  // within the capacity before_fork() reserved
    }
    r.m_forking.clear();
    r.m_pools.clear();  // the exit hook has nothing to do for inherited pools (all alive)
    r.m_mutex.unlock();
}
#endif

void install_process_hooks() noexcept {
    if (std::atexit(&exit_hook) != 0) std::fputs("weft: cannot register the exit hook\n", stderr);
#if WEFT_POOL_HAS_PTHREAD_ATFORK
    // Run inside the sink registry's handlers (detail/task_sink.hpp): lock order sink
    // registry, pool registry, pools.
    set_pool_fork_handlers(&before_fork, &after_fork_in_parent, &after_fork_in_child);
#endif
}

}  // namespace

void report_posted_call_exception(const std::exception_ptr& e) noexcept {
    report("exception in a posted call", e);
}

void pool_thread_finishing() noexcept {
    pool_thread_info* me = tls_pool_thread;
    if (me == nullptr || me->m_depth != 0 || me->m_credited) return;
    thread_pool_core& c = *me->m_core;
    // relaxed: a heuristic; a thread that finds work after all takes its credit back.
    if (c.m_queued.load(std::memory_order_relaxed) != 0) return;
    // relaxed: credits only steer whether submit() starts a thread; a submit that
    // follows this task's result() sees it through the future's release/acquire.
    c.m_idle.fetch_add(1, std::memory_order_relaxed);
    me->m_credited = true;
}

std::string_view current_pool_thread_name() noexcept {
    const pool_thread_info* me = tls_pool_thread;
    return me != nullptr ? std::string_view{me->m_name} : std::string_view{};
}

int default_max_workers() noexcept {
    int cpus = 0;
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
#endif
    if (cpus <= 0) cpus = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    return std::min(32, cpus + 4);
}

std::string default_thread_name_prefix() {
    static std::atomic<unsigned> counter{0};
    // relaxed: only uniqueness matters.
    return "ThreadPoolExecutor-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

void register_pool(const std::shared_ptr<thread_pool_core>& core) {
    static std::once_flag once;
    std::call_once(once, &install_process_hooks);
    pool_registry& r = registry();
    std::lock_guard lock{r.m_mutex};
    if (r.m_exiting) {
        core->begin_exit();  // built after the hook ran: it accepts nothing
        return;
    }
    std::erase_if(r.m_pools, [](const auto& w) { return w.expired(); });
    r.m_pools.push_back(core);
}

thread_pool_core::thread_pool_core(int max_workers, std::string prefix,
                                   std::function<void()> initializer)
    : m_max_workers{max_workers}, m_prefix{std::move(prefix)}, m_initializer{std::move(initializer)} {
    m_sink_id = register_sink(*this);
    // No m_threads.reserve(max_workers): any positive max_workers is valid (as in
    // Python) and threads start lazily; the vector grows with them.
}

thread_pool_core::~thread_pool_core() {
    unregister_sink(m_sink_id);  // no continuation can be queued here any more
    // The owner has shut down and joined already (or the exit hook holds the last
    // reference); this also covers a core whose threads could not be started.
    m_state.fetch_or(k_stop, std::memory_order_seq_cst);  // seq_cst: as in shutdown()
    wait_for_submitters();
    m_sleep.notify_all();
    join_threads(/*skip_self=*/true);
    drain(pool_item_op::cancel);
}

bool thread_pool_core::is_own_thread() const noexcept {
    const pool_thread_info* me = tls_pool_thread;
    return me != nullptr && me->m_core == this;
}

bool thread_pool_core::is_shut_down() const noexcept {
    // relaxed: a snapshot of a flag that is never cleared.
    return (m_state.load(std::memory_order_relaxed) & (k_stop | k_exit)) != 0;
}

bool thread_pool_core::is_broken() const noexcept {
    return (m_state.load(std::memory_order_relaxed) & k_broken) != 0;  // relaxed: as above
}

void thread_pool_core::submit(pool_item* item, const char* caller) {
    // seq_cst: the reservation and shutdown()'s fetch_or of k_stop are RMWs on one word:
    // either shutdown sees this submitter and waits for it, or this sees k_stop.
    const std::uint64_t state = m_state.fetch_add(k_submitter, std::memory_order_seq_cst);
    if ((state & k_flags) != 0) [[unlikely]]
        reject(state, caller);
    // seq_cst: ordered before notify_if_no_searcher()'s fence F1, the Dekker partner of
    // park()'s fence F2 after which a parking thread re-reads m_queued.
    // The idle credit is taken before the push: a thread that pops this item while it
    // holds a credit takes its credit back, which must not be the one counted on here.
    const bool need_thread = !take_idle_credit();
    m_queued.fetch_add(1, std::memory_order_seq_cst);
    while (!m_queue.push(item)) cpu_relax();  // only fails when out of memory
    if (need_thread) start_thread_if_below_max();
    m_sleep.notify_if_no_searcher();
    // release: publishes the m_queued increment (and the push) to may_exit()'s and
    // wait_for_submitters()' acquire loads of m_state.
    m_state.fetch_sub(k_submitter, std::memory_order_release);
}

void thread_pool_core::reject(std::uint64_t state, const char* caller) {
    m_state.fetch_sub(k_submitter, std::memory_order_relaxed);  // relaxed: nothing published
    throw_refusal(state, caller);
}

void thread_pool_core::throw_refusal(std::uint64_t state, const char* caller) {
    // Check order as Python's submit (B13): broken, own shutdown (a forked child's copy
    // counts as shut down), interpreter shutdown. Python's text follows the public name.
    if ((state & k_broken) != 0) throw broken_thread_pool(k_broken_initializer_message);
    const std::string name = std::string{"weft::thread_pool_executor::"} + caller + ": ";
    if ((state & k_forked) != 0)
        throw executor_shutdown_error(name + "cannot schedule new futures in a forked child process (the "
                                             "pool's threads stayed in the parent)");
    if ((state & k_stop) != 0) throw executor_shutdown_error(name + "cannot schedule new futures after shutdown");
    throw executor_shutdown_error(name + "cannot schedule new futures after interpreter shutdown");
}

bool thread_pool_core::take_idle_credit() noexcept {
    // Python's _idle_semaphore.acquire(timeout=0): an idle thread will take the item.
    std::int64_t idle = m_idle.load(std::memory_order_relaxed);  // relaxed: a heuristic
    while (idle > 0)
        if (m_idle.compare_exchange_weak(idle, idle - 1, std::memory_order_relaxed))  // relaxed: as above
            return true;
    return false;
}

void thread_pool_core::start_thread_if_below_max() {
    if (m_thread_count.load(std::memory_order_relaxed) >= static_cast<std::size_t>(m_max_workers))
        return;  // relaxed: re-checked under the mutex
    start_thread();
}

void thread_pool_core::start_thread() {
    std::lock_guard lock{m_threads_mutex};
    const std::size_t index = m_threads.size();
    if (index >= static_cast<std::size_t>(m_max_workers)) return;
    try {
        m_threads.emplace_back([this, index] { worker_main(index); });
    } catch (...) {
        report("cannot start a thread; the task waits for another one", std::current_exception());
        return;
    }
    m_thread_count.store(index + 1, std::memory_order_relaxed);  // relaxed: a snapshot
}

void thread_pool_core::worker_main(std::size_t index) {
    pool_thread_info me;
    me.m_core = this;
    me.m_name = m_prefix + "_" + std::to_string(index);
    tls_pool_thread = &me;
    set_current_thread_name(os_thread_name(m_prefix, index));
    bool initialized = true;
    if (m_initializer) {
        try {
            m_initializer();
        } catch (...) {
            report("exception in initializer", std::current_exception());
            initialized = false;
        }
    }
    if (initialized)
        worker_loop();
    else
        on_initializer_failure();
    tls_pool_thread = nullptr;
}

void thread_pool_core::worker_loop() {
    pool_thread_info& me = *tls_pool_thread;
    m_sleep.begin_search();
    for (;;) {
        pool_item* item = try_pop();
        if (item == nullptr) {
            if (may_exit()) break;
            if (!me.m_credited) {
                m_idle.fetch_add(1, std::memory_order_relaxed);  // relaxed: a heuristic
                me.m_credited = true;
            }
            for (int round = 0; round < k_spin_rounds && item == nullptr; ++round) {
                spin_backoff(static_cast<std::uint32_t>(round));
                item = try_pop();
            }
            if (item == nullptr) {
                m_sleep.end_search();
                m_sleep.park([this] { return has_work_or_stop(); });
                m_sleep.begin_search();
                continue;
            }
        }
        // The last searcher to find work wakes another if more is queued (submitters
        // skip the wake-up while someone searches).
        if (m_sleep.end_search() && m_queued.load(std::memory_order_relaxed) > 0)  // relaxed: hint
            m_sleep.notify_one();
        if (me.m_credited) {
            // Working after all: take back a credit nobody has claimed yet.
            std::int64_t idle = m_idle.load(std::memory_order_relaxed);  // relaxed: a heuristic
            while (idle > 0 && !m_idle.compare_exchange_weak(idle, idle - 1, std::memory_order_relaxed)) {
            }
            me.m_credited = false;
        }
        run_popped(item);
        m_sleep.begin_search();
    }
    m_sleep.end_search();
}

void thread_pool_core::on_initializer_failure() noexcept {
    // seq_cst: as shutdown()'s k_stop: every later reservation sees k_broken.
    m_state.fetch_or(k_broken, std::memory_order_seq_cst);
    wait_for_submitters();
    drain(pool_item_op::fail_broken);
}

void thread_pool_core::run_popped(pool_item* item) noexcept {
    // relaxed: k_broken carries no data; an item popped just before the flag runs.
    const bool broken = (m_state.load(std::memory_order_relaxed) & k_broken) != 0;
    item->m_op(item, broken ? pool_item_op::fail_broken : pool_item_op::run);
}

pool_item* thread_pool_core::try_pop() noexcept {
    // relaxed: a fast empty check; a miss is re-checked before sleeping or exiting.
    if (m_queued.load(std::memory_order_relaxed) <= 0) return nullptr;
    pool_item* item = nullptr;
    if (!m_queue.pop(item)) return nullptr;
    // relaxed: same-variable RMWs; the push happened before this pop, so its increment
    // precedes this decrement and the count never goes below zero.
    m_queued.fetch_sub(1, std::memory_order_relaxed);
    return item;
}

bool thread_pool_core::has_work_or_stop() const noexcept {
    // relaxed: both loads follow park()'s fence F2 (the Dekker pair with the submitter's
    // and shutdown()'s fence F1 in the sleep protocol).
    return m_queued.load(std::memory_order_relaxed) > 0 ||
           (m_state.load(std::memory_order_relaxed) & (k_stop | k_exit)) != 0;
}

bool thread_pool_core::may_exit() const noexcept {
    // acquire: pairs with submit()'s release of its reservation, so the m_queued
    // increment of every submitter that has left is visible below.
    const std::uint64_t state = m_state.load(std::memory_order_acquire);
    if ((state & (k_stop | k_exit)) == 0 || state >= k_submitter) return false;
    return m_queued.load(std::memory_order_relaxed) == 0;  // relaxed: ordered by the acquire
}

void thread_pool_core::wait_for_submitters() const noexcept {
    // acquire: pairs with submit()'s release, so every item they pushed is visible.
    for (std::uint32_t round = 0; m_state.load(std::memory_order_acquire) >= k_submitter; ++round)
        spin_backoff(std::min<std::uint32_t>(round, 31));
}

void thread_pool_core::drain(pool_item_op op) noexcept {
    for (;;) {
        if (pool_item* item = try_pop()) {
            item->m_op(item, op);
            continue;
        }
        // relaxed: after wait_for_submitters() nothing new is queued; a thread that
        // popped an item decrements the count right after, so this ends.
        if (m_queued.load(std::memory_order_relaxed) <= 0) return;
        cpu_relax();
    }
}

void thread_pool_core::shutdown(bool wait, bool cancel_futures) {
    // seq_cst: pairs with submit()'s reservation on the same word (see there).
    m_state.fetch_or(k_stop, std::memory_order_seq_cst);
    wait_for_submitters();
    if (cancel_futures) drain(pool_item_op::cancel);
    m_sleep.notify_all();
    if (!wait) return;
    if (is_own_thread()) throw std::runtime_error("weft::thread_pool_executor::shutdown: cannot join current thread");
    join_threads(/*skip_self=*/false);
}

void thread_pool_core::begin_exit() noexcept {
    m_state.fetch_or(k_exit, std::memory_order_seq_cst);  // seq_cst: as k_stop in shutdown()
    wait_for_submitters();
    m_sleep.notify_all();
}

void thread_pool_core::join_threads(bool skip_self) noexcept {
    if (is_forked_copy()) return;  // the threads stayed in the parent
    // No submitter is in flight (the caller waited), so no thread is being added and the
    // elements stay put. m_threads_mutex is taken only to read the vector: a pool thread
    // that forks meanwhile needs it in before_fork().
    std::lock_guard join_lock{m_join_mutex};
    const std::thread::id self = std::this_thread::get_id();
    for (std::size_t i = 0;; ++i) {
        std::thread* t = nullptr;
        {
            std::lock_guard lock{m_threads_mutex};
            if (i >= m_threads.size()) return;
            t = &m_threads[i];
        }
        if (!t->joinable() || (skip_self && t->get_id() == self)) continue;
        t->join();
    }
}

bool thread_pool_core::is_forked_copy() const noexcept {
    // relaxed: k_forked is set in a child before any other code of the child runs.
    return (m_state.load(std::memory_order_relaxed) & k_forked) != 0;
}

void thread_pool_core::fork_prepare() noexcept { m_threads_mutex.lock(); }

void thread_pool_core::fork_parent() noexcept { m_threads_mutex.unlock(); }

void thread_pool_core::fork_child() noexcept {
    // The child runs only the forking thread: the loads and stores below race with
    // nothing (relaxed), and the parent's submitters and threads are not here.
    // Keep k_broken and k_exit (their messages still apply); clear the submitters.
    const std::uint64_t kept = m_state.load(std::memory_order_relaxed) & (k_broken | k_exit);
    m_state.store(kept | k_stop | k_forked, std::memory_order_relaxed);
    // Nothing pops again: try_pop() and drain() see an empty queue, and a pool thread
    // that forked from inside a call leaves its loop once that call returns (may_exit).
    m_queued.store(0, std::memory_order_relaxed);
    m_idle.store(0, std::memory_order_relaxed);
    // Neither joined nor detached (a handle may name a thread the child starts later).
    for (std::thread& t : m_threads) forget(t);
    m_threads.clear();
    m_thread_count.store(0, std::memory_order_relaxed);
    m_threads_mutex.unlock();
}

bool pool_claim_begin(const thread_pool_core* core) noexcept {
    pool_thread_info* me = tls_pool_thread;
    if (me == nullptr || me->m_core != core) return false;
    ++me->m_depth;
    return true;
}

void pool_claim_end() noexcept { --tls_pool_thread->m_depth; }

}  // namespace weft::detail

namespace weft {

namespace {
std::shared_ptr<detail::thread_pool_core> make_core(const thread_pool_options& options) {
    int workers = detail::default_max_workers();
    if (options.max_workers.has_value()) {
        if (*options.max_workers <= 0)
            throw std::invalid_argument("weft::thread_pool_executor: max_workers must be greater than 0");
        workers = *options.max_workers;
    }
    std::string prefix = options.thread_name_prefix.empty() ? detail::default_thread_name_prefix()
                                                            : options.thread_name_prefix;
    auto core = std::make_shared<detail::thread_pool_core>(workers, std::move(prefix), options.initializer);
    detail::register_pool(core);
    return core;
}
}  // namespace

thread_pool_executor::thread_pool_executor() : thread_pool_executor(thread_pool_options{}) {}

thread_pool_executor::thread_pool_executor(int max_workers)
    : thread_pool_executor(thread_pool_options{.max_workers = max_workers}) {}

thread_pool_executor::thread_pool_executor(const thread_pool_options& options)
    : m_core{make_core(options)} {}

thread_pool_executor::~thread_pool_executor() {
    if (m_core->is_own_thread()) {
        std::fputs("weft: a thread_pool_executor was destroyed by one of its own threads "
                   "(it cannot join itself)\n", stderr);
        std::terminate();
    }
    m_core->shutdown(/*wait=*/true, /*cancel_futures=*/false);
}

void thread_pool_executor::shutdown(bool wait, bool cancel_futures) { m_core->shutdown(wait, cancel_futures); }

int thread_pool_executor::max_workers() const noexcept { return m_core->max_workers(); }

std::size_t thread_pool_executor::thread_count() const noexcept { return m_core->thread_count(); }

const std::string& thread_pool_executor::thread_name_prefix() const noexcept { return m_core->thread_name_prefix(); }

bool thread_pool_executor::is_shut_down() const noexcept { return m_core->is_shut_down(); }

bool thread_pool_executor::is_broken() const noexcept { return m_core->is_broken(); }

bool thread_pool_executor::running_in_this_thread() const noexcept { return m_core->is_own_thread(); }

std::string_view thread_pool_executor::current_thread_name() noexcept { return detail::current_pool_thread_name(); }

}  // namespace weft
