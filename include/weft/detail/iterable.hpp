// weft — "anything a range-for loop accepts", without std::ranges views: clang 14 cannot
// compile libstdc++ 12's views (ref_view, iota_view, ...), so weft's own range-taking
// functions use begin()/end() found as a range-for loop finds them. The single-pass
// ranges weft returns (map's results, as_completed's futures) are nevertheless views
// (pull_range derives from std::ranges::view_base), so code built with a compiler that
// has them can write `pool.map(f, xs) | std::views::take(2)`. Not API.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

namespace weft::detail {

namespace iterable_adl {
using std::begin;
using std::end;

template <class R>
auto begin_of(R& r) -> decltype(begin(r)) {
    return begin(r);
}
template <class R>
auto end_of(R& r) -> decltype(end(r)) {
    return end(r);
}
}  // namespace iterable_adl

using iterable_adl::begin_of;
using iterable_adl::end_of;

/// A type that begin()/end() iterate, with an iterator that can be compared to its end,
/// dereferenced and incremented.
template <class R>
concept iterable = requires(std::remove_reference_t<R>& r) {
    begin_of(r) != end_of(r);
    *begin_of(r);
    ++std::declval<decltype(begin_of(r))&>();
};

template <iterable R>
using iterator_of = decltype(begin_of(std::declval<std::remove_reference_t<R>&>()));

/// What dereferencing R's iterator gives.
template <iterable R>
using element_reference_t = decltype(*std::declval<iterator_of<R>&>());

/// How a range passed as `R&&` is kept: an lvalue by reference, an rvalue by value.
template <class R>
using kept_range_t = std::conditional_t<std::is_lvalue_reference_v<R>, R, std::remove_cvref_t<R>>;

/// The iterator of a single-pass range that makes its elements one at a time (map's
/// results, as_completed's futures): an input iterator compared with
/// std::default_sentinel_t. `Range` derives from pull_range below.
///
/// Advancing is lazy: ++ drops the current element and only asks for the next one; the
/// next one is made (waited for, and what making it threw is rethrown) when first
/// looked at, by *it, it-> or it == end. So `| std::views::take(n)` stops after n
/// elements without waiting for element n + 1, as Python's islice does.
///
/// Validity: the iterator points at the range object it came from. Moving the range
/// invalidates it (a view's iterators live only as long as that view object); call
/// begin() on the moved-to range to continue where iteration stopped.
template <class Range, class Value>
class pull_iterator {
public:
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    pull_iterator() = default;
    explicit pull_iterator(Range* r) noexcept : m_range{r} {}

    /// The current element; waits for it first if it is not made yet (and rethrows what
    /// making it threw).
    Value& operator*() const { return m_range->current(); }
    Value* operator->() const { return &m_range->current(); }
    /// Drops the current element and asks for the next (made when first looked at).
    pull_iterator& operator++() {
        m_range->next();
        return *this;
    }
    void operator++(int) { ++*this; }
    /// True at the end; waits for the next element first if it is not made yet. A
    /// default-constructed iterator is at the end.
    friend bool operator==(const pull_iterator& it, std::default_sentinel_t) { return it.at_end(); }

private:
    bool at_end() const { return m_range == nullptr || m_range->exhausted(); }  // Range befriends us, not operator==
    Range* m_range = nullptr;
};

/// The cursor of a single-pass range of Value made one at a time: `Derived` provides
/// `void make_next(std::optional<Value>& out)`, which sets `out` to the next element or
/// leaves it empty at the end, may wait, and may throw (the range then ends). Move-only;
/// a moved-from range is empty (begin() == end()).
///
/// Thread safety: a range and its iterators belong to one thread at a time.
template <class Derived, class Value>
class pull_range : public std::ranges::view_base {
public:
    using iterator = pull_iterator<Derived, Value>;

    /// An iterator at the first element; the first call starts the iteration (the
    /// element is made when first looked at). An input range is traversed once: later
    /// calls continue where the last iterator stopped.
    iterator begin() {
        if (!m_started) {
            m_started = true;
            m_wanted = true;
        }
        return iterator{static_cast<Derived*>(this)};
    }
    std::default_sentinel_t end() const noexcept { return {}; }

protected:
    pull_range() = default;
    pull_range(pull_range&& o) noexcept(std::is_nothrow_move_constructible_v<Value>)
        : m_current{std::move(o.m_current)},
          m_started{std::exchange(o.m_started, true)},
          m_wanted{std::exchange(o.m_wanted, false)},
          m_done{std::exchange(o.m_done, true)} {
        o.m_current.reset();
    }
    pull_range& operator=(pull_range&& o) noexcept(std::is_nothrow_move_constructible_v<Value> &&
                                                   std::is_nothrow_move_assignable_v<Value>) {
        m_current = std::move(o.m_current);
        o.m_current.reset();
        m_started = std::exchange(o.m_started, true);
        m_wanted = std::exchange(o.m_wanted, false);
        m_done = std::exchange(o.m_done, true);
        return *this;
    }
    ~pull_range() = default;

    /// True once begin() was called.
    bool started() const noexcept { return m_started; }
    /// Ends the range (after a failure, or when it is dropped).
    void finish() noexcept {
        m_current.reset();
        m_wanted = false;
        m_done = true;
    }

private:
    friend iterator;

    Value& current() {
        settle();
        return *m_current;
    }
    bool exhausted() {
        settle();
        return m_done;
    }
    void next() {
        settle();
        m_current.reset();
        m_wanted = !m_done;
    }
    void settle() {
        if (!m_wanted) return;
        m_wanted = false;
        try {
            static_cast<Derived*>(this)->make_next(m_current);
        } catch (...) {
            finish();
            throw;
        }
        if (!m_current) m_done = true;
    }

    std::optional<Value> m_current;
    bool m_started = false;
    bool m_wanted = false;  // the next element is asked for and not made yet
    bool m_done = false;
};

}  // namespace weft::detail
