// weft — "anything a range-for loop accepts", without std::ranges views: clang 14 cannot
// compile libstdc++ 12's views (ref_view, iota_view, ...), so weft's own range-taking
// functions use begin()/end() found as a range-for loop finds them. Not API.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <iterator>
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
/// results, as_completed's futures). `Range` provides `current()`, `advance()` (may wait
/// and throw) and `exhausted()`, and befriends this class. Compared with
/// std::default_sentinel_t.
template <class Range, class Value>
class pull_iterator {
public:
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    pull_iterator() = default;
    explicit pull_iterator(Range* r) noexcept : m_range{r} {}

    Value& operator*() const { return m_range->current(); }
    Value* operator->() const { return &m_range->current(); }
    /// Makes the next element: waits for it, and rethrows what making it threw.
    pull_iterator& operator++() {
        m_range->advance();
        return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const pull_iterator& it, std::default_sentinel_t) noexcept { return it.at_end(); }

private:
    bool at_end() const noexcept { return m_range->exhausted(); }  // Range befriends us, not operator==
    Range* m_range = nullptr;
};

}  // namespace weft::detail
