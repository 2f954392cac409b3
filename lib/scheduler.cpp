// weft — the worker loop, stealing, parking and shutdown.
#include <weft/detail/scheduler.hpp>
#include <weft/executor.hpp>

#include "thread_support.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <system_error>

#include <pthread.h>
#include <stdexcept>
#include <string>

namespace weft::detail {
namespace {

std::uint64_t next_random(std::uint64_t& state) noexcept {
    // xorshift64*: cheap, good enough to spread victims.
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
}

}  // namespace

native_thread::~native_thread() {
    if (m_started) std::terminate();  // as std::thread: a thread must be joined
}

void native_thread::start(void (*fn)(void*), void* arg, std::size_t stack_size) {
    struct start_info {
        void (*m_fn)(void*);
        void* m_arg;
    };
    auto* info = new start_info{fn, arg};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = 0;
    if (stack_size != 0) rc = pthread_attr_setstacksize(&attr, stack_size);
    pthread_t handle{};
    if (rc == 0) {
        rc = pthread_create(
            &handle, &attr,
            [](void* p) -> void* {
                const start_info i = *static_cast<start_info*>(p);
                delete static_cast<start_info*>(p);
                i.m_fn(i.m_arg);
                return nullptr;
            },
            info);
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        delete info;
        throw std::system_error(rc, std::generic_category(),
                                stack_size != 0 ? "weft: cannot start a worker thread with the requested stack_size"
                                                : "weft: cannot start a worker thread");
    }
    m_handle = static_cast<unsigned long>(handle);
    m_started = true;
}

void native_thread::join() noexcept {
    if (!m_started) return;
    pthread_join(static_cast<pthread_t>(m_handle), nullptr);
    m_started = false;
}

void spin_backoff(std::uint32_t round) noexcept {
    if (round < 16) {
        for (std::uint32_t i = 0, n = 1U << (round / 2); i < n; ++i) cpu_relax();
    } else {
        std::this_thread::yield();
    }
}

scheduler::scheduler(executor& owner, const executor_options& options)
    : m_owner{&owner},
      m_stack_size{options.stack_size},
      m_prefix{options.thread_name_prefix},
      m_handler{options.unhandled_exception_handler} {
    register_asymmetric_fence();  // before any worker can spawn or park
    if (options.workers.value() < 0 || options.workers.value() > thread_count::k_max)
        throw std::invalid_argument("weft::executor: workers must be between 0 (one per hardware thread) and " +
                                    std::to_string(thread_count::k_max));
    if (options.max_spare_workers.value() < 0 || options.max_spare_workers.value() > thread_count::k_max)
        throw std::invalid_argument("weft::executor: max_spare_workers must be between 0 and " +
                                    std::to_string(thread_count::k_max));
    std::size_t n = static_cast<std::size_t>(options.workers.value());
    if (n == 0) n = std::max(1U, std::thread::hardware_concurrency());
    m_parallelism = n;
    m_max_slots = n + static_cast<std::size_t>(options.max_spare_workers.value());
    m_inline_threshold = static_cast<std::int64_t>(k_inline_per_worker * n);
    m_slots = std::make_unique<std::unique_ptr<worker>[]>(m_max_slots);
    for (std::size_t i = 0; i < n; ++i) m_slots[i] = make_worker(i);
    m_slot_count.store(n, std::memory_order_release);  // release: before any thread reads slots
    m_threads.store(n * k_one_live, std::memory_order_relaxed);  // relaxed: no thread yet
    m_id = register_sink(*this);
    try {
        std::lock_guard lock{m_spare_mutex};
        for (std::size_t i = 0; i < n; ++i) {
            m_slots[i]->m_in_use = true;
            m_slots[i]->m_thread.start(&thread_entry, m_slots[i].get(), m_stack_size);
        }
    } catch (...) {
        stop_and_join();  // join the ones that started
        throw;
    }
}

std::unique_ptr<worker> scheduler::make_worker(std::size_t index) {
    auto w = std::make_unique<worker>();
    w->m_sched = this;
    w->m_index = index;
    w->m_spare = index >= m_parallelism;
    w->m_rng = 0x9E3779B97F4A7C15ULL * (index + 1);
    w->m_name = os_thread_name(m_prefix, index);
    return w;
}

void scheduler::thread_entry(void* slot) noexcept {
    worker& w = *static_cast<worker*>(slot);
    w.m_sched->worker_main(w);
}

scheduler::~scheduler() { stop_and_join(); }

void scheduler::reject_inject() {
    // relaxed: undoing our own reservation; nobody waits for this count to reach zero
    // except shutdown's drain, which tolerates a stale value for a moment.
    m_inject_state.fetch_sub(2, std::memory_order_relaxed);
    throw executor_shutdown_error{"weft::executor: cannot schedule new tasks after shutdown"};
}

std::uint64_t scheduler::injected_pending() const noexcept {
    // seq_cst: read by park()'s re-check after fence F2 and by a searcher after its
    // end_search(); pairs with begin_inject()'s seq_cst reservation.
    return m_inject_state.load(std::memory_order_seq_cst) >> 1;
}

bool scheduler::stop_requested() const noexcept {
    // seq_cst: pairs with shutdown()'s seq_cst fetch_or, read after fence F2.
    return (m_inject_state.load(std::memory_order_seq_cst) & k_stop_bit) != 0;
}

bool scheduler::has_visible_work() const noexcept {
    if (injected_pending() != 0) return true;
    const std::size_t n = slot_count();
    for (std::size_t i = 0; i < n; ++i)
        if (!slot(i).m_deque.empty_estimate()) return true;
    return false;
}

task_base* scheduler::pop_injection(worker& w) {
    const std::uint64_t pending = injected_pending();
    if (pending == 0) return nullptr;
    // Take a share of the queue at once: the first task to run now, the rest onto our
    // deque (where idle workers can steal them), in reverse so that they still start in
    // submission order. One count update per batch instead of per task.
    const std::uint64_t share = std::min<std::uint64_t>(
        k_inject_batch, pending / m_parallelism + 1);
    task_base* batch[k_inject_batch];
    std::uint32_t taken = 0;
    while (taken < share && m_injection.pop(batch[taken])) ++taken;
    if (taken == 0) return nullptr;  // pop() may fail spuriously; callers look again
    // relaxed: the reservation count only steers sleeping and exiting, which re-check.
    m_inject_state.fetch_sub(2 * std::uint64_t{taken}, std::memory_order_relaxed);
    w.m_injected.add(taken);
    for (std::uint32_t i = taken - 1; i > 0; --i) w.m_deque.push(batch[i]);
    return batch[0];
}

task_base* scheduler::steal_sweep(worker& w) {
    const std::size_t n = slot_count();
    if (n < 2) return nullptr;
    for (int pass = 0; pass < 2; ++pass) {
        bool contended = false;
        const std::size_t start = next_random(w.m_rng) % n;
        for (std::size_t i = 0; i < n; ++i) {
            worker& victim = slot((start + i) % n);
            if (&victim == &w) continue;
            if (victim.m_deque.empty_estimate()) continue;
            w.m_steal_attempts.add();
            auto r = victim.m_deque.steal();
            if (r.status == steal_status::success) {
                w.m_stolen.add();
                return r.value;
            }
            contended |= r.status == steal_status::retry;
        }
        if (!contended) break;
    }
    return nullptr;
}

task_base* scheduler::next_task(worker& w) {
    task_base* t = nullptr;
    if (++w.m_tick >= k_inject_poll) {
        w.m_tick = 0;
        if ((t = pop_injection(w)) != nullptr) return t;
    }
    if (w.m_next != nullptr) return std::exchange(w.m_next, nullptr);
    if (w.m_deque.pop(t)) return t;
    if ((t = pop_injection(w)) != nullptr) return t;
    return steal_sweep(w);
}

task_base* scheduler::search_or_park(worker& w) {
    for (;;) {
        m_sleep.begin_search();
        for (int round = 0; round < k_search_rounds; ++round) {
            task_base* t = steal_sweep(w);
            if (t == nullptr) t = pop_injection(w);
            if (t != nullptr) {
                // The last searcher to find work wakes a replacement if more is visible,
                // so a burst of submissions fans out without a thundering herd.
                m_sleep.end_search_found([this] { return has_visible_work(); });
                return t;
            }
            spin_backoff(static_cast<std::uint32_t>(round));
        }
        m_sleep.end_search();
        if (w.m_spare && try_retire()) {
            // A producer may have counted us as searching and woken nobody: whatever it
            // published must not stay behind with everyone else asleep.
            m_sleep.leave([this] { return has_visible_work(); });
            return nullptr;
        }
        const auto has_work = [this] { return has_visible_work() || stop_requested(); };
        const auto on_sleep = [&w] { w.m_parks.add(); };
        if (w.m_spare)
            m_sleep.park_for(has_work, on_sleep, k_spare_idle);  // then search again, maybe retire
        else
            m_sleep.park(has_work, on_sleep);
        if (stop_requested() && !has_visible_work()) return nullptr;
    }
}

void scheduler::worker_main(worker& w) {
    thread_context& ctx = this_context();
    ctx.m_worker = &w;
    set_current_thread_name(w.m_name);
    for (;;) {
        task_base* t = next_task(w);
        if (t == nullptr) t = search_or_park(w);
        if (t == nullptr) break;  // retired, or shutting down with nothing left anywhere
        run_task(w, t);
    }
    ctx.m_worker = nullptr;
    std::lock_guard lock{m_spare_mutex};
    w.m_in_use = false;  // the slot may take a new spare (which joins this thread first)
}

bool scheduler::try_retire() noexcept {
    // relaxed: the count only steers how many threads stay; the slot itself is handed
    // over under m_spare_mutex.
    std::uint64_t c = m_threads.load(std::memory_order_relaxed);
    for (;;) {
        const std::uint64_t live = c >> 32, blocked = c & 0xffff'ffffU;
        if (live - blocked <= m_parallelism) return false;
        if (m_threads.compare_exchange_weak(c, c - k_one_live, std::memory_order_relaxed)) break;
    }
    return true;
}

void scheduler::begin_block(worker& w) noexcept {
    w.m_blocked.add();
    if (task_base* t = std::exchange(w.m_next, nullptr)) spawn(w, t);
    inline_trampoline& r = tls_trampoline;
    while (task_base* t = r.m_head) {
        r.m_head = t->m_next;
        t->m_next = nullptr;  // a queued task's m_next is its tag: none
        spawn(w, t);
    }
    r.m_tail = nullptr;
    // Whatever waits in our deque must not wait for us: make sure a worker comes for it.
    if (!w.m_deque.empty_estimate()) m_sleep.notify_if_no_searcher();
    // acq_rel: orders this count with the other blockers' and with start_spare's re-check.
    const std::uint64_t c = m_threads.fetch_add(1, std::memory_order_acq_rel) + 1;
    if ((c >> 32) - (c & 0xffff'ffffU) < m_parallelism) start_spare(w);
}

void scheduler::end_block() noexcept {
    m_threads.fetch_sub(1, std::memory_order_relaxed);  // relaxed: see try_retire
}

void scheduler::start_spare(worker& starter) noexcept {
    std::lock_guard lock{m_spare_mutex};
    const std::uint64_t c = m_threads.load(std::memory_order_acquire);  // acquire: as in begin_block
    if ((c >> 32) - (c & 0xffff'ffffU) >= m_parallelism) return;  // another blocker started one
    const std::size_t n = slot_count();
    std::size_t i = m_parallelism;
    while (i < n && slot(i).m_in_use) ++i;
    try {
        if (i == n) {
            if (n == m_max_slots) {
                m_spare_cap_hits.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
                return;  // the cap: this waiter blocks without a replacement
            }
            m_slots[n] = make_worker(n);
            m_slot_count.store(n + 1, std::memory_order_release);  // release: publishes the slot to thieves
        }
        worker& spare = slot(i);
        if (spare.m_thread.joinable()) spare.m_thread.join();  // a retired spare, exiting
        m_threads.fetch_add(k_one_live, std::memory_order_relaxed);  // relaxed: see try_retire
        spare.m_in_use = true;
        try {
            spare.m_thread.start(&thread_entry, &spare, m_stack_size);
        } catch (...) {
            spare.m_in_use = false;
            m_threads.fetch_sub(k_one_live, std::memory_order_relaxed);  // relaxed: as above
            throw;
        }
        starter.m_spares_started.add();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weft: cannot start a spare worker (%s); the waiter blocks without one\n",
                     e.what());
    }
}

void scheduler::shutdown() {
    if (local_worker(this_context()) != nullptr)
        throw std::logic_error(
            "weft::executor::shutdown called from one of the executor's own workers: it "
            "would wait for itself");
    stop_and_join();
}

void scheduler::stop_and_join() noexcept {
    unregister_sink(m_id);
    // seq_cst: ordered with begin_inject()'s reservations (same location) and read by
    // parking workers after their fence F2.
    m_inject_state.fetch_or(k_stop_bit, std::memory_order_seq_cst);
    m_sleep.notify_all();
    // Concurrent callers all return only once every thread is joined. A thread being
    // joined may still start a spare (a wait during the drain): keep going until a whole
    // pass finds no thread left.
    std::call_once(m_join_once, [this] {
        for (;;) {
            native_thread t;
            {
                std::lock_guard lock{m_spare_mutex};
                const std::size_t n = slot_count();
                for (std::size_t i = 0; i < n && !t.joinable(); ++i)
                    if (slot(i).m_thread.joinable()) t = std::move(slot(i).m_thread);
            }
            if (!t.joinable()) break;
            t.join();
        }
    });
}

std::vector<worker_stats> scheduler::stats() const {
    std::vector<worker_stats> out;
    const std::size_t n = slot_count();
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const worker& w = slot(i);
        out.push_back({w.m_index, w.m_executed.get(), w.m_stolen.get(), w.m_steal_attempts.get(),
                       w.m_parks.get(), w.m_injected.get(), w.m_blocked.get(),
                       w.m_spares_started.get(), w.m_spare});
    }
    return out;
}

std::uint64_t scheduler::spare_cap_hits() const noexcept {
    return m_spare_cap_hits.load(std::memory_order_relaxed);  // relaxed: statistics
}

std::size_t scheduler::live_threads() const noexcept {
    return static_cast<std::size_t>(m_threads.load(std::memory_order_relaxed) >> 32);  // relaxed: a snapshot
}

block_scope::block_scope() noexcept : m_worker{static_cast<worker*>(blocking_enter())} {}

block_scope::~block_scope() { blocking_leave(m_worker); }

void drain_trampoline() noexcept {
    inline_trampoline& r = tls_trampoline;
    while (task_base* next = r.m_head) {
        r.m_head = next->m_next;
        if (r.m_head == nullptr) r.m_tail = nullptr;
        next->m_next = nullptr;
        ++r.m_depth;
        next->m_invoke(next);
        --r.m_depth;
    }
}

// What block_scope does, split in two calls for the header-only template (no allocation).
void* blocking_enter() noexcept {
    thread_context* c = tls_context;
    if (c != nullptr && c->m_worker != nullptr) {
        c->m_worker->m_sched->begin_block(*c->m_worker);
        return c->m_worker;
    }
    drain_trampoline();
    return nullptr;
}

void blocking_leave(void* blocked_worker) noexcept {
    if (blocked_worker != nullptr) static_cast<worker*>(blocked_worker)->m_sched->end_block();
}

void scheduler::report_unhandled(const std::exception_ptr& e, std::string_view where) noexcept {
    if (m_handler) {
        try {
            m_handler(e, where);
            return;
        } catch (...) {
            std::fputs("weft: the unhandled-exception handler threw; reporting on stderr\n",
                       stderr);
        }
    }
    try {
        const std::optional<std::string> what = exception_what(e);
        const std::string text = what ? "exception: " + *what
                                      : std::string{"exception of a type not derived from std::exception"};
        std::fprintf(stderr, "weft: task on worker %.*s ended with an unhandled %s\n",
                     static_cast<int>(where.size()), where.data(), text.c_str());
    } catch (...) {
        std::fputs("weft: a task ended with an unhandled exception\n", stderr);
    }
}

void report_unhandled_exception(std::exception_ptr e) noexcept {
    if (worker* w = current_worker()) {
        w->m_sched->report_unhandled(std::move(e), w->m_name);
        return;
    }
    std::fputs("weft: a task ended with an unhandled exception off any worker\n", stderr);
}

}  // namespace weft::detail
