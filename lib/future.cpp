// weft — the slow paths of futures: waiting (claim the awaited task, else block with
// compensation on a worker), cancellation, errors.
#include <weft/detail/shared_state.hpp>
#include <weft/errors.hpp>

#include "thread_support.hpp"

#include <cstdio>
#include <string>

namespace weft::detail {
namespace {

using clock = std::chrono::steady_clock;

/// Spin rounds of a waiter before it blocks.
constexpr std::uint32_t k_spin_rounds = 20;

}  // namespace

state_base::~state_base() = default;

bool state_base::start() {
    switch (m_word.try_start()) {
        case start_result::started: return true;
        case start_result::cancelled: return false;
        case start_result::unexpected: break;
    }
    throw invalid_state_error("weft::promise::set_running_or_notify_cancel: Future in unexpected state");
}

bool state_base::cancel() noexcept {
    if (m_word.try_cancel()) {
        run_continuations();
        return true;
    }
    if (phase() == future_phase::running) return cancel_running();
    return is_cancelled();
}

bool state_base::try_fail(std::exception_ptr e) noexcept {
    if (!begin_complete()) return false;
    m_error = std::move(e);
    complete();
    return true;
}

void state_base::rethrow_if_failed() const {
    if (is_cancelled()) throw cancelled_error{"weft::future::get: the future was cancelled"};
    if (m_error) std::rethrow_exception(m_error);
}

void state_base::wait() {
    if (is_done()) return;
    check_wait();
    if (try_claim() && is_done()) return;
    // Spin briefly before blocking: a round trip is often microseconds, and a worker
    // that blocks costs a wake-up or a spare.
    for (std::uint32_t round = 0; round < k_spin_rounds; ++round) {
        if (is_done()) return;
        spin_backoff(round);
    }
    const block_scope blocked;
    m_word.wait();
}

bool state_base::wait_for(std::chrono::nanoseconds timeout) {
    if (is_done()) return true;
    if (timeout <= std::chrono::nanoseconds::zero()) return false;
    if (timeout == std::chrono::nanoseconds::max()) {
        wait();
        return true;
    }
    // A timed wait runs no task: any task could outlive the deadline.
    const clock::time_point deadline = deadline_after(timeout);
    const block_scope blocked;
    while (!is_done()) {
        const clock::time_point now = clock::now();
        if (now >= deadline) return false;
        m_word.wait_once_for(deadline == clock::time_point::max() ? std::chrono::hours{1}
                                                                  : std::chrono::nanoseconds{deadline - now});
    }
    return true;
}

void state_base::report_callback_exception(std::exception_ptr e) const noexcept {
    if (m_sched_id != 0 && report_by_id(m_sched_id, e, "(done-callback)")) return;
    try {
        const std::string what =
            exception_what(e).value_or("an exception not derived from std::exception");
        std::fprintf(stderr, "weft: exception calling a future's done-callback: %s\n", what.c_str());
    } catch (...) {
        std::fputs("weft: exception calling a future's done-callback\n", stderr);
    }
}

}  // namespace weft::detail
