// weft — the slow paths of task_group: helping, blocking, exceptions.
#include <weft/task_group.hpp>


namespace weft {
namespace {

/// Spin rounds of a waiter before it blocks.
constexpr std::uint32_t k_spin_rounds = 20;

}  // namespace

task_group::~task_group() {
    if (detail::tls_context == m_owner && !is_done()) wait_slow();
    if (m_error_taken.load(std::memory_order_acquire) != 0 && m_error)  // acquire: as in wait()
        m_sched->report_unhandled(m_error, "(task_group destroyed before wait)");
}

void task_group::record_exception(std::exception_ptr e) noexcept {
    // acq_rel: the first child to fail owns m_error; the release in child_done() then
    // publishes it to the waiter.
    if (m_error_taken.exchange(1, std::memory_order_acq_rel) == 0) {
        m_error = std::move(e);
        return;
    }
    m_dropped.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
    const detail::worker* w = detail::current_worker();
    m_sched->report_unhandled(std::move(e), w != nullptr ? std::string_view{w->m_name} : "?");
}

void task_group::rethrow_if_failed() {
    std::exception_ptr e = std::exchange(m_error, nullptr);
    m_error_taken.store(0, std::memory_order_relaxed);  // relaxed: the group is idle now
    if (e) std::rethrow_exception(std::move(e));
}

void task_group::wait_slow() {
    if (detail::worker* w = m_sched->local_worker(*m_owner)) {
        // Run our own children while one is on top of our deque; anything else there
        // (a fire-and-forget task, a continuation) may wait for us, so it is not ours to
        // run: block instead, and let a spare or a thief take it.
        detail::task_base* t = nullptr;
        while (!is_done()) {
            if (m_sched->pop_own_tagged(*w, this, t)) {
                m_sched->run_nested(*w, t);
                continue;
            }
            // A stolen child often finishes within microseconds: spin briefly before
            // paying for a block (a futex sleep, and maybe a spare).
            for (std::uint32_t round = 0; round < k_spin_rounds && !is_done(); ++round)
                detail::spin_backoff(round);
            if (is_done()) break;
            const detail::block_scope blocked;
            block_until_done();
        }
        return;
    }
    // Off the executor's workers: spin briefly (a round trip is often microseconds),
    // then block.
    for (std::uint32_t round = 0; round < k_spin_rounds; ++round) {
        if (is_done()) return;
        detail::spin_backoff(round);
    }
    const detail::block_scope blocked;  // another executor's worker is blocked too
    block_until_done();
}

void task_group::block_until_done() {
    // Fold the owner's count into the shared word so that the last child finishing
    // elsewhere can see from m_shared alone that the group is done.
    // relaxed: only the count changes hands; the flag below orders the handshake.
    m_shared.fetch_add(m_local * 2, std::memory_order_relaxed);
    m_local = 0;
    // acquire: as in is_done(); the RMW also orders the flag with child_done()'s RMW.
    std::uint32_t v = m_shared.fetch_or(1, std::memory_order_acquire) | 1U;
    while (((v >> 1) & k_count_mask) != 0) {
        detail::futex_wait(m_shared, v);
        v = m_shared.load(std::memory_order_acquire);  // acquire: as in is_done()
    }
    m_shared.fetch_and(~1U, std::memory_order_relaxed);  // relaxed: only the owner sets it
}

}  // namespace weft
