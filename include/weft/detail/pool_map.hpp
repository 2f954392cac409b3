// weft — the lazy result range of thread_pool_executor::map. Not API.
//
// After CPython's Executor.map (3.14): the inputs are zipped (the shortest ends it);
// every call is submitted when map() is called, or, with a buffer size b, the first b
// and then one more on each advance, before waiting. Each advance waits for the oldest
// outstanding future (until the deadline fixed at the call, if any) and yields its
// result; an exception (the call's, or timeout_error) cancels every outstanding future
// and ends the range. Advancing is lazy (pull_iterator): ++ only asks for the next
// result, which is waited for when first looked at. Destroying the range once its
// iteration began (begin() called) cancels what is still outstanding; a range never
// iterated leaves its submitted calls to run and submits no more (Python: an unstarted
// generator never runs its cancelling `finally`, so `pool.map(f, xs);` runs every f).
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
#include <stdexcept>
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

/// The result type of map(): a move-only input range (and view) of R, std::monostate for
/// void. See the file comment; dropping a range whose iteration never began leaves its
/// submitted calls to run (Python: an unstarted generator never runs its `finally`).
template <class R>
class map_range : public pull_range<map_range<R>, std::conditional_t<std::is_void_v<R>, std::monostate, R>> {
public:
    using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

    map_range(std::deque<future<R>> submitted, std::unique_ptr<map_source<R>> source,
              std::optional<std::chrono::steady_clock::time_point> deadline) noexcept
        : m_pending{std::move(submitted)}, m_source{std::move(source)}, m_deadline{deadline} {}
    map_range(map_range&& o)  // not noexcept: libstdc++'s deque allocates when moved
        : base{std::move(o)},
          m_pending{std::move(o.m_pending)},
          m_source{std::move(o.m_source)},
          m_deadline{o.m_deadline} {
        o.m_pending.clear();
    }
    /// Drops this range's calls as its destructor does, then takes `o`'s.
    map_range& operator=(map_range&& o) noexcept(std::is_nothrow_move_constructible_v<value_type> &&
                                                 std::is_nothrow_move_assignable_v<value_type>) {
        if (this != &o) {
            drop();
            base::operator=(std::move(o));
            m_pending = std::move(o.m_pending);
            o.m_pending.clear();
            m_source = std::move(o.m_source);
            m_deadline = o.m_deadline;
        }
        return *this;
    }
    map_range(const map_range&) = delete;
    map_range& operator=(const map_range&) = delete;
    ~map_range() { drop(); }

    /// Calls submitted and not yet yielded.
    std::size_t outstanding() const noexcept { return m_pending.size(); }

private:
    using base = pull_range<map_range<R>, value_type>;
    friend base;

    /// Once iteration began, cancels what is outstanding (Python's generator `finally`);
    /// before, the submitted calls run and nothing more is submitted.
    void drop() noexcept {
        if (this->started()) cancel_outstanding();
        m_pending.clear();
        m_source.reset();
    }

    void make_next(std::optional<value_type>& out) {
        if (m_pending.empty()) return;
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
                take_result(f);
                out.emplace();
            } else {
                out.emplace(take_result(f));
            }
        } catch (...) {
            if (f.valid()) f.cancel();  // Python's _result_or_cancel (a no-op once done)
            fail();
            throw;
        }
    }

    /// The result moved out of `f` (its only handle: nothing else keeps the value, and a
    /// move-only R works). A timeout leaves `f` valid.
    R take_result(future<R>& f) const {
        // time_point::max() is "no deadline": an untimed wait (which may run the call).
        if (m_deadline && *m_deadline != std::chrono::steady_clock::time_point::max())
            return std::move(f).result(*m_deadline - std::chrono::steady_clock::now());
        return std::move(f).result();
    }

    void fail() noexcept {
        cancel_outstanding();
        m_source.reset();
    }

    void cancel_outstanding() noexcept {
        for (const future<R>& f : m_pending)
            if (f.valid()) f.cancel();
        m_pending.clear();
    }

    std::deque<future<R>> m_pending;  // oldest first
    std::unique_ptr<map_source<R>> m_source;  // buffered maps only
    std::optional<std::chrono::steady_clock::time_point> m_deadline;
};

/// Builds the range: the deadline first (it counts from the call), then the submissions.
/// `timeout` is >= 0 (nanoseconds::max(): no limit); `buffersize` < 1 is refused.
template <class R, class F, class... Rs>
map_range<R> make_map_range(std::shared_ptr<thread_pool_core> core, std::optional<std::chrono::nanoseconds> timeout,
                            std::optional<std::ptrdiff_t> buffersize, F&& fn, Rs&&... ranges) {
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (timeout) deadline = deadline_after(*timeout);  // saturates: nanoseconds::max() is "never", <= 0 "now"
    if (buffersize && *buffersize < 1)
        throw std::invalid_argument("weft::thread_pool_executor::map: buffersize must be >= 1 (Python: None or > 0)");
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
