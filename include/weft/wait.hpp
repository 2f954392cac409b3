// weft — Python's concurrent.futures.wait and as_completed over any range of futures.
//
// Both install one done-callback per unfinished future (never polling); the callbacks
// reach the waiter object through a weak reference, so once wait() returns or the
// as_completed range is dropped they find nothing and keep nothing: no future, no value
// (CPython removes its waiters in a `finally`; weft has no callback removal, so a
// callback of a future that never finishes keeps that weak reference, a control block,
// until the future's state goes). Input futures are copied (handles), so a temporary
// container is fine; duplicates count once (futures compare by identity). A cancelled
// future counts as done, however it was cancelled (B49).
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/detail/iterable.hpp>
#include <weft/errors.hpp>
#include <weft/future.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace weft {

/// When wait() returns (Python's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class return_when { first_completed, first_exception, all_completed };

/// wait()'s answer: each input future once, in input order, in one of the two lists.
template <class T>
struct wait_result {
    std::vector<future<T>> done;
    std::vector<future<T>> not_done;
};

namespace detail {

template <class R>
concept waitable_range = iterable<R> && is_future<std::remove_cvref_t<element_reference_t<R>>>::value;

template <waitable_range R>
using future_value_t = typename std::remove_cvref_t<element_reference_t<R>>::value_type;

using wait_clock = std::chrono::steady_clock;

template <class Rep, class Period>
wait_clock::time_point deadline_in(const std::chrono::duration<Rep, Period>& timeout) {
    return deadline_after(saturating_ns(timeout));
}

/// The input without duplicates, in first-seen order.
template <class T, class R>
std::vector<future<T>> unique_futures(R&& fs) {
    std::vector<future<T>> out;
    std::unordered_set<future<T>> seen;
    for (auto&& f : fs) {
        const future<T>& handle = f;
        if (seen.insert(handle).second) out.push_back(handle);
    }
    return out;
}

/// True if `f` (done) failed with an exception rather than a value or cancellation.
template <class T>
bool failed(const future<T>& f) {
    return !f.cancelled() && f.exception() != nullptr;
}

/// The object wait()'s done-callbacks share with the waiting thread.
class wait_signal {
public:
    wait_signal(return_when mode, std::size_t unfinished) noexcept : m_mode{mode}, m_unfinished{unfinished} {}

    /// A watched future finished (`failed`: with an exception).
    void on_done(bool failed) {
        std::lock_guard lock{m_mutex};
        --m_unfinished;
        if (m_mode == return_when::first_completed || (m_mode == return_when::first_exception && failed) ||
            m_unfinished == 0) {
            m_fired = true;
            m_cv.notify_all();
        }
    }

    /// Waits until fired or `deadline` passes.
    void wait(std::optional<wait_clock::time_point> deadline) {
        {
            std::lock_guard lock{m_mutex};
            if (m_fired) return;
        }
        const block_scope blocked;  // a worker keeps its executor's parallelism meanwhile
        std::unique_lock lock{m_mutex};
        if (!deadline || *deadline == wait_clock::time_point::max())
            m_cv.wait(lock, [this] { return m_fired; });
        else
            m_cv.wait_until(lock, *deadline, [this] { return m_fired; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    return_when m_mode;
    std::size_t m_unfinished;
    bool m_fired = false;
};

template <class T>
wait_result<T> split(const std::vector<future<T>>& fs) {
    wait_result<T> r;
    for (const future<T>& f : fs) (f.done() ? r.done : r.not_done).push_back(f);
    return r;
}

template <class T>
wait_result<T> wait_impl(std::vector<future<T>> fs, std::optional<wait_clock::time_point> deadline, return_when mode) {
    if (mode != return_when::first_completed && mode != return_when::first_exception &&
        mode != return_when::all_completed)
        throw std::invalid_argument("weft::wait: Invalid return condition: " + std::to_string(static_cast<int>(mode)));
    std::vector<const future<T>*> unfinished;
    bool any_done = false, any_failed = false;
    for (const future<T>& f : fs) {
        if (!f.done()) {
            unfinished.push_back(&f);
        } else {
            any_done = true;
            any_failed = any_failed || (mode == return_when::first_exception && failed(f));
        }
    }
    if (unfinished.empty() || (mode == return_when::first_completed && any_done) || any_failed) return split(fs);
    // Allocated apart from its control block (not make_shared), so that the callbacks'
    // weak references keep only the control block once the wait returned.
    const std::shared_ptr<wait_signal> signal{new wait_signal{mode, unfinished.size()}};
    const std::weak_ptr<wait_signal> weak = signal;
    // Exactly the futures counted above get a callback; one that finished meanwhile
    // runs it at once, so each is counted once.
    for (const future<T>* f : unfinished) {
        f->add_done_callback([weak](const future<T>& g) {
            if (const std::shared_ptr<wait_signal> s = weak.lock()) s->on_done(failed(g));
        });
    }
    signal->wait(deadline);
    return split(fs);
}

}  // namespace detail

/// Waits until every future in `fs` is done (Python's wait(fs)). Thread-safe.
template <detail::waitable_range R>
wait_result<detail::future_value_t<R>> wait(R&& fs, return_when when = return_when::all_completed) {
    using T = detail::future_value_t<R>;
    return detail::wait_impl<T>(detail::unique_futures<T>(std::forward<R>(fs)), std::nullopt, when);
}

/// As wait(fs, when), returning the partial split once `timeout` (from now) has passed;
/// never throws timeout_error. Zero or negative: just looks. Thread-safe.
template <detail::waitable_range R, class Rep, class Period>
wait_result<detail::future_value_t<R>> wait(R&& fs, const std::chrono::duration<Rep, Period>& timeout,
                                            return_when when = return_when::all_completed) {
    using T = detail::future_value_t<R>;
    const auto deadline = detail::deadline_in(timeout);
    return detail::wait_impl<T>(detail::unique_futures<T>(std::forward<R>(fs)), deadline, when);
}

/// The range as_completed() returns: yields each input future once, as it completes.
/// A move-only input range (and view); advancing waits (on the element's first look,
/// see detail::pull_iterator) and may throw timeout_error. Dropping it (even before the
/// end) unhooks it from the futures still pending: their callbacks then store nothing.
/// Thread safety: one thread at a time.
template <class T>
class as_completed_range : public detail::pull_range<as_completed_range<T>, future<T>> {
    /// What the callbacks share with the range, through a weak reference.
    struct shared {
        std::mutex m_mutex;
        std::condition_variable m_cv;
        std::vector<future<T>> m_finished;  // in completion order, not yet taken
    };

public:
    as_completed_range(std::vector<future<T>> fs, std::optional<detail::wait_clock::time_point> deadline)
        : m_shared{new shared}, m_total{fs.size()}, m_deadline{deadline} {
        // m_shared is not make_shared: the callbacks' weak references then keep only
        // the control block, not the shared object, once the range is gone.
        std::vector<future<T>> pending;
        for (future<T>& f : fs) {
            if (f.done())
                m_ready.push_back(std::move(f));
            else
                pending.push_back(std::move(f));
        }
        const std::weak_ptr<shared> weak = m_shared;
        for (const future<T>& f : pending) {
            f.add_done_callback([weak](const future<T>& g) {
                const std::shared_ptr<shared> s = weak.lock();
                if (!s) return;  // the range is gone: keep nothing
                std::lock_guard lock{s->m_mutex};
                s->m_finished.push_back(g);
                s->m_cv.notify_one();
            });
        }
    }
    as_completed_range(as_completed_range&& o)  // not noexcept: libstdc++'s deque allocates when moved
        : base{std::move(o)},
          m_shared{std::move(o.m_shared)},
          m_ready{std::move(o.m_ready)},
          m_total{std::exchange(o.m_total, 0)},
          m_yielded{std::exchange(o.m_yielded, 0)},
          m_deadline{o.m_deadline} {
        o.m_ready.clear();
    }
    as_completed_range& operator=(as_completed_range&& o) noexcept {
        if (this != &o) {
            base::operator=(std::move(o));
            m_shared = std::move(o.m_shared);
            m_ready = std::move(o.m_ready);
            o.m_ready.clear();
            m_total = std::exchange(o.m_total, 0);
            m_yielded = std::exchange(o.m_yielded, 0);
            m_deadline = o.m_deadline;
        }
        return *this;
    }
    as_completed_range(const as_completed_range&) = delete;
    as_completed_range& operator=(const as_completed_range&) = delete;
    ~as_completed_range() = default;

private:
    using base = detail::pull_range<as_completed_range<T>, future<T>>;
    friend base;

    void make_next(std::optional<future<T>>& out) {
        if (m_ready.empty() && m_yielded < m_total) take_finished();
        if (m_ready.empty()) return;
        out = std::move(m_ready.front());
        m_ready.pop_front();
        ++m_yielded;
    }

    void take_finished() {
        const auto any = [this] { return !m_shared->m_finished.empty(); };
        std::optional<detail::block_scope> blocked;
        {
            std::lock_guard lock{m_shared->m_mutex};
            if (!any()) blocked.emplace();  // a worker keeps its executor's parallelism meanwhile
        }
        std::unique_lock lock{m_shared->m_mutex};
        if (!m_deadline || *m_deadline == detail::wait_clock::time_point::max()) {
            m_shared->m_cv.wait(lock, any);
        } else if (!m_shared->m_cv.wait_until(lock, *m_deadline, any)) {
            throw timeout_error("weft::as_completed: " + std::to_string(m_total - m_yielded) + " (of " +
                                std::to_string(m_total) + ") futures unfinished");
        }
        for (future<T>& f : m_shared->m_finished) m_ready.push_back(std::move(f));
        m_shared->m_finished.clear();
    }

    std::shared_ptr<shared> m_shared;
    std::deque<future<T>> m_ready;  // to yield next, in order
    std::size_t m_total;
    std::size_t m_yielded = 0;
    std::optional<detail::wait_clock::time_point> m_deadline;
};

/// Python's as_completed(fs): the futures already done first, then the others in the
/// order they complete; each once. Thread-safe (the range itself: one thread).
template <detail::waitable_range R>
as_completed_range<detail::future_value_t<R>> as_completed(R&& fs) {
    using T = detail::future_value_t<R>;
    return {detail::unique_futures<T>(std::forward<R>(fs)), std::nullopt};
}

/// As as_completed(fs); advancing past the point where `timeout` (counted from this
/// call) has run out throws timeout_error("weft::as_completed: N (of M) futures unfinished").
template <detail::waitable_range R, class Rep, class Period>
as_completed_range<detail::future_value_t<R>> as_completed(R&& fs, const std::chrono::duration<Rep, Period>& timeout) {
    using T = detail::future_value_t<R>;
    const auto deadline = detail::deadline_in(timeout);
    return {detail::unique_futures<T>(std::forward<R>(fs)), deadline};
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
