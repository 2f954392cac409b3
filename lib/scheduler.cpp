// weft — the worker loop, stealing, parking and shutdown.
#include <weft/detail/scheduler.hpp>
#include <weft/executor.hpp>

#include "thread_support.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
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

void spin_backoff(std::uint32_t round) noexcept {
    if (round < 16) {
        for (std::uint32_t i = 0, n = 1U << (round / 2); i < n; ++i) cpu_relax();
    } else {
        std::this_thread::yield();
    }
}

scheduler::scheduler(executor& owner, const executor_options& options)
    : m_owner{&owner}, m_handler{options.unhandled_exception_handler} {
    std::size_t n = options.workers;
    if (n == 0) n = std::max(1U, std::thread::hardware_concurrency());
    m_inline_threshold = static_cast<std::int64_t>(k_inline_per_worker * n);
    m_workers.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto w = std::make_unique<worker>();
        w->m_sched = this;
        w->m_index = i;
        w->m_rng = 0x9E3779B97F4A7C15ULL * (i + 1);
        w->m_name = os_thread_name(options.thread_name_prefix, i);
        m_workers.push_back(std::move(w));
    }
    m_threads.reserve(n);
    try {
        for (std::size_t i = 0; i < n; ++i)
            m_threads.emplace_back([this, i] { worker_main(*m_workers[i]); });
    } catch (...) {
        stop_and_join();  // join the ones that started
        throw;
    }
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
    return std::any_of(m_workers.begin(), m_workers.end(),
                       [](const auto& w) { return !w->m_deque.empty_estimate(); });
}

task_base* scheduler::pop_injection(worker& w) {
    const std::uint64_t pending = injected_pending();
    if (pending == 0) return nullptr;
    // Take a share of the queue at once: the first task to run now, the rest onto our
    // deque (where idle workers can steal them), in reverse so that they still start in
    // submission order. One count update per batch instead of per task.
    const std::uint64_t share = std::min<std::uint64_t>(
        k_inject_batch, pending / m_workers.size() + 1);
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
    const std::size_t n = m_workers.size();
    if (n < 2) return nullptr;
    for (int pass = 0; pass < 2; ++pass) {
        bool contended = false;
        const std::size_t start = next_random(w.m_rng) % n;
        for (std::size_t i = 0; i < n; ++i) {
            worker& victim = *m_workers[(start + i) % n];
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

task_base* scheduler::find_help_task(worker& w) {
    task_base* t = nullptr;
    const bool may_steal = w.m_depth < k_max_help_depth;
    if (may_steal && ++w.m_tick >= k_inject_poll) {
        w.m_tick = 0;
        if ((t = pop_injection(w)) != nullptr) return t;
    }
    if (w.m_next != nullptr) return std::exchange(w.m_next, nullptr);
    if (w.m_deque.pop(t)) return t;
    if (!may_steal) return nullptr;
    if ((t = steal_sweep(w)) != nullptr) return t;
    return pop_injection(w);
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
                if (m_sleep.end_search() && has_visible_work()) m_sleep.notify_one();
                return t;
            }
            spin_backoff(static_cast<std::uint32_t>(round));
        }
        m_sleep.end_search();
        m_sleep.park([this] { return has_visible_work() || stop_requested(); },
                     [&w] { w.m_parks.add(); });
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
        if (t == nullptr) break;  // shutting down and nothing left anywhere
        run_task(w, t);
    }
    ctx.m_worker = nullptr;
}

void scheduler::shutdown() {
    if (local_worker(this_context()) != nullptr)
        throw std::logic_error(
            "weft::executor::shutdown called from one of the executor's own workers: it "
            "would wait for itself");
    stop_and_join();
}

void scheduler::stop_and_join() noexcept {
    // seq_cst: ordered with begin_inject()'s reservations (same location) and read by
    // parking workers after their fence F2.
    m_inject_state.fetch_or(k_stop_bit, std::memory_order_seq_cst);
    m_sleep.notify_all();
    // Concurrent callers all return only once the workers are joined.
    std::call_once(m_join_once, [this] {
        for (auto& t : m_threads)
            if (t.joinable()) t.join();
    });
}

std::vector<worker_stats> scheduler::stats() const {
    std::vector<worker_stats> out;
    out.reserve(m_workers.size());
    for (const auto& w : m_workers) {
        out.push_back({w->m_index, w->m_executed.get(), w->m_stolen.get(),
                       w->m_steal_attempts.get(), w->m_parks.get(), w->m_injected.get()});
    }
    return out;
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
