// weft — the slow paths of futures: waiting (helping on a worker, blocking elsewhere),
// cancellation, errors.
#include <weft/detail/shared_state.hpp>
#include <weft/errors.hpp>

#include "thread_support.hpp"

#include <cstdio>
#include <string>

namespace weft::detail {
namespace {

using clock = std::chrono::steady_clock;

/// How long a helping or hooked waiter blocks before it looks for work again.
constexpr std::chrono::milliseconds k_help_rescan{1};
/// Spin rounds of an outside waiter before it blocks (a round trip is often microseconds).
constexpr std::uint32_t k_outside_spin_rounds = 20;

std::chrono::nanoseconds until(clock::time_point deadline, std::chrono::nanoseconds cap) {
    if (deadline == clock::time_point::max()) return cap;
    const auto left = deadline - clock::now();
    return left < cap ? std::chrono::duration_cast<std::chrono::nanoseconds>(left) : cap;
}

}  // namespace

state_base::~state_base() = default;

bool state_base::start() {
    switch (m_word.try_start()) {
        case start_result::started: return true;
        case start_result::cancelled: return false;
        case start_result::unexpected: break;
    }
    throw invalid_state_error("Future in unexpected state");
}

bool state_base::cancel() noexcept {
    if (m_word.try_cancel()) {
        run_continuations();
        return true;
    }
    return is_cancelled();
}

bool state_base::try_fail(std::exception_ptr e) noexcept {
    if (!begin_complete()) return false;
    m_error = std::move(e);
    complete();
    return true;
}

void state_base::rethrow_if_failed() const {
    if (is_cancelled()) throw cancelled_error{};
    if (m_error) std::rethrow_exception(m_error);
}

void state_base::wait() {
    if (is_done()) return;
    help_until_done(clock::time_point::max(), false);
}

bool state_base::wait_for(std::chrono::nanoseconds timeout) {
    if (is_done()) return true;
    if (timeout <= std::chrono::nanoseconds::zero()) return false;
    if (timeout == std::chrono::nanoseconds::max()) {
        wait();
        return true;
    }
    return help_until_done(deadline_after(timeout), true);
}

bool state_base::help_until_done(clock::time_point deadline, bool timed) {
    auto expired = [&] { return timed && clock::now() >= deadline; };
    if (worker* w = current_worker()) {
        // On a worker: run other tasks (stealing only below the nesting limit) so that
        // waiting never idles a worker the awaited work may need.
        w->m_sched->help_until(
            *w, [&] { return is_done() || expired(); },
            [&] { m_word.wait_once_for(until(deadline, k_help_rescan)); });
        return is_done();
    }
    if (const wait_hook* hook = tls_wait_hook) {
        // A thread_pool_executor thread: run queued items of its pool meanwhile.
        while (!is_done() && !expired()) {
            if (!hook->m_try_run_one(hook->m_context))
                m_word.wait_once_for(until(deadline, k_help_rescan));
        }
        return is_done();
    }
    for (std::uint32_t round = 0; round < k_outside_spin_rounds; ++round) {
        if (is_done()) return true;
        spin_backoff(round);
    }
    if (!timed) {
        m_word.wait();
        return true;
    }
    while (!is_done() && !expired()) m_word.wait_once_for(until(deadline, std::chrono::hours{1}));
    return is_done();
}

void state_base::report_callback_exception(std::exception_ptr e) const noexcept {
    if (m_sched != nullptr) {
        m_sched->report_unhandled(e, "(done-callback)");
        return;
    }
    try {
        const std::string what =
            exception_what(e).value_or("an exception not derived from std::exception");
        std::fprintf(stderr, "weft: exception calling a future's done-callback: %s\n", what.c_str());
    } catch (...) {
        std::fputs("weft: exception calling a future's done-callback\n", stderr);
    }
}

}  // namespace weft::detail
