// weft — the lazy result range of thread_pool_executor::map. Not API.
//
// After CPython's Executor.map (3.14): the inputs are zipped (the shortest ends it);
// every call is submitted when map() is called, or, with a buffer size b, the first b
// and then one more on each advance, before waiting. Each advance waits for the oldest
// outstanding future (until the deadline fixed at the call, if any) and yields its
// result; an exception (the call's, or timeout_error) cancels every outstanding future
// and ends the range. Destroying the range cancels what is still outstanding.
//
// Thread safety: a map_range and its iterators belong to one thread at a time.
#pragma once

#include <weft/detail/iterable.hpp>
#include <weft/detail/pool_task.hpp>
#include <weft/future.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft::detail {

/// Where a buffered map gets its next call from.
template <class R>
class map_source {
public:
    virtual ~map_source() = default;
    /// Submits the next zipped call and appends its future; false when an input ran out.
    virtual bool submit_next(std::deque<future<R>>& out) = 0;
};

/// The zipped inputs (owned when passed as rvalues), their cursors and the callable.
/// `Kept` are kept_range_t<Rs>: references to lvalue inputs, values of rvalue inputs.
template <class R, class Fn, class... Kept>
class zip_source final : public map_source<R> {
public:
    template <class G, class... Rs>
    zip_source(std::shared_ptr<thread_pool_core> core, G&& fn, Rs&&... ranges)
        : m_core{std::move(core)},
          m_fn(std::forward<G>(fn)),
          m_ranges(std::forward<Rs>(ranges)...),
          m_its(std::apply([](auto&... r) { return std::tuple{begin_of(r)...}; }, m_ranges)) {}

    bool submit_next(std::deque<future<R>>& out) override {
        if constexpr (sizeof...(Kept) == 0) {
            (void)out;
            return false;
        } else {
            if (at_end(std::index_sequence_for<Kept...>{})) return false;
            out.push_back(std::apply([this](auto&... it) { return pool_submit(*m_core, m_fn, *it...); }, m_its));
            std::apply([](auto&... it) { (++it, ...); }, m_its);
            return true;
        }
    }

private:
    template <std::size_t... I>
    bool at_end(std::index_sequence<I...>) {
        return (!(std::get<I>(m_its) != end_of(std::get<I>(m_ranges))) || ...);
    }

    std::shared_ptr<thread_pool_core> m_core;
    Fn m_fn;
    std::tuple<Kept...> m_ranges;
    std::tuple<iterator_of<Kept>...> m_its;
};

/// The result type of map(): a move-only input range of R (std::monostate for void).
template <class R>
class map_range {
public:
    using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

    using iterator = pull_iterator<map_range, value_type>;

    map_range(std::deque<future<R>> submitted, std::unique_ptr<map_source<R>> source,
              std::optional<std::chrono::steady_clock::time_point> deadline) noexcept
        : m_pending{std::move(submitted)}, m_source{std::move(source)}, m_deadline{deadline} {}
    map_range(map_range&&) noexcept = default;
    map_range& operator=(map_range&&) = delete;
    map_range(const map_range&) = delete;
    map_range& operator=(const map_range&) = delete;
    ~map_range() { cancel_outstanding(); }

    /// Waits for the first result (once; an input range is traversed once).
    iterator begin() {
        if (!m_started) {
            m_started = true;
            advance();
        }
        return iterator{this};
    }
    std::default_sentinel_t end() const noexcept { return {}; }

    /// Calls submitted and not yet yielded.
    std::size_t outstanding() const noexcept { return m_pending.size(); }

private:
    friend iterator;
    value_type& current() { return *m_current; }
    bool exhausted() const noexcept { return m_done; }
    void advance() {
        m_current.reset();
        if (m_pending.empty()) {
            m_done = true;
            return;
        }
        try {
            if (m_source && !m_source->submit_next(m_pending)) m_source.reset();
        } catch (...) {
            fail();
            throw;
        }
        future<R> f = std::move(m_pending.front());
        m_pending.pop_front();
        try {
            if constexpr (std::is_void_v<R>) {
                wait_result(f);
                m_current.emplace();
            } else {
                m_current.emplace(wait_result(f));
            }
        } catch (...) {
            f.cancel();  // Python's _result_or_cancel (a no-op once done)
            fail();
            throw;
        }
    }

    decltype(auto) wait_result(const future<R>& f) const {
        if (m_deadline) return f.result(*m_deadline - std::chrono::steady_clock::now());
        return f.result();
    }

    void fail() noexcept {
        cancel_outstanding();
        m_source.reset();
        m_done = true;
    }

    void cancel_outstanding() noexcept {
        for (const future<R>& f : m_pending)
            if (f.valid()) f.cancel();
        m_pending.clear();
    }

    std::deque<future<R>> m_pending;  // oldest first
    std::unique_ptr<map_source<R>> m_source;  // buffered maps only
    std::optional<std::chrono::steady_clock::time_point> m_deadline;
    std::optional<value_type> m_current;
    bool m_started = false;
    bool m_done = false;
};

/// Builds the range: the deadline first (it counts from the call), then the submissions.
template <class R, class F, class... Rs>
map_range<R> make_map_range(std::shared_ptr<thread_pool_core> core, std::optional<std::chrono::nanoseconds> timeout,
                            std::optional<std::ptrdiff_t> buffersize, F&& fn, Rs&&... ranges) {
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (timeout) deadline = deadline_after(*timeout);  // saturates: nanoseconds::max() is "never"
    if (buffersize && *buffersize < 1) throw std::invalid_argument("buffersize must be None or > 0");
    using source_type = zip_source<R, std::decay_t<F>, kept_range_t<Rs&&>...>;
    std::unique_ptr<map_source<R>> source =
        std::make_unique<source_type>(std::move(core), std::forward<F>(fn), std::forward<Rs>(ranges)...);
    std::deque<future<R>> submitted;
    try {
        if (buffersize) {
            for (std::ptrdiff_t i = 0; i < *buffersize && source->submit_next(submitted); ++i) {
            }
        } else {
            while (source->submit_next(submitted)) {
            }
            source.reset();
        }
    } catch (...) {
        for (const future<R>& f : submitted) f.cancel();
        throw;
    }
    return map_range<R>{std::move(submitted), std::move(source), deadline};
}

}  // namespace weft::detail
