// weft — combinators over futures: when_all and when_any.
//
// Both are built from continuations only: each input future gets one small node that
// counts down (when_all) or races to be first (when_any) on the thread that completes
// that input. No thread per combinator, no polling.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/future.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <ranges>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weft {

/// What when_any's future holds: the index of a future that is done, and all the futures
/// (a tuple for the variadic form, a vector for ranges). For an empty range, index is
/// when_any_result::npos.
template <class Sequence>
struct when_any_result {
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    std::size_t index = npos;
    Sequence futures;
};

namespace detail {

template <class F>
state_base* checked_state(const F& f) {
    const auto& s = future_access::state(f);
    if (!s) throw invalid_state_error("weft::when_all/when_any: an input future is empty");
    return s.get();
}

template <class Sequence, bool Any>
using combinator_value = std::conditional_t<Any, when_any_result<Sequence>, Sequence>;

/// The state of a when_all or when_any over `Sequence`; `Any` picks the rule. Its value
/// (the inputs) is made at construction and stays in place: completing publishes it, no
/// move. The members (one continuation per input) are inline: a std::array for the
/// variadic forms (`Extent` inputs: the whole combinator is one pooled node), or, for
/// ranges (Extent std::dynamic_extent), an array that trails the object in the same
/// block (trailing_combinator_state).
template <class Sequence, bool Any, std::size_t Extent>
class combinator_state : public shared_state<combinator_value<Sequence, Any>> {
    using value_type = combinator_value<Sequence, Any>;

protected:
    struct member final : continuation {
        combinator_state* m_owner = nullptr;
    };
    static constexpr bool k_dynamic = Extent == std::dynamic_extent;

public:
    explicit combinator_state(Sequence inputs, std::size_t count)
        : shared_state<value_type>(stored_value_tag{}, 0, 1, 0, make_value(std::move(inputs))),
          m_left{static_cast<counter_type>(Any ? 1 : count)} {
        if constexpr (!k_dynamic) init_members(m_members.data(), Extent);
    }

    /// Adds the members to their inputs. Each member holds a reference to this state; an
    /// input already done runs its member at once (the last may complete this state).
    /// Only the creator calls it, before any handle to this state exists: nobody reads
    /// the value meanwhile.
    void arm() noexcept {
        if (count() == 0) {
            this->try_complete_stored();  // when_any: index stays npos
            return;
        }
        std::size_t i = 0;
        for_each_input([&](state_base& in) {
            this->add_ref();
            in.add_continuation(&members()[i++]);
            return false;
        });
    }

    /// A waiter awaits the inputs too: it runs those it may claim (when_any: until one
    /// ran). The inputs stay in this state's value until it dies, and a waiter holds a
    /// handle, so nobody moves them out meanwhile (a move needs the only handle).
    bool try_claim() noexcept override {
        bool ran = false;
        for_each_input([&](state_base& in) {
            if (!in.is_done()) ran |= in.try_claim();
            return Any && ran;
        });
        return ran;
    }

protected:
    void init_members(member* members, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i) {
            members[i].m_owner = this;
            members[i].m_run = &member_done;
        }
        if constexpr (k_dynamic) {
            m_members = members;
            m_count = n;
        }
    }

private:
    static value_type make_value(Sequence&& inputs) {
        if constexpr (Any)
            return value_type{when_any_result<Sequence>::npos, std::move(inputs)};
        else
            return std::move(inputs);
    }
    Sequence& inputs() noexcept {
        if constexpr (Any)
            return this->value().futures;
        else
            return this->value();
    }
    member* members() noexcept {
        if constexpr (k_dynamic)
            return m_members;
        else
            return m_members.data();
    }
    std::size_t count() const noexcept {
        if constexpr (k_dynamic)
            return m_count;
        else
            return Extent;
    }
    /// Calls `f(input state)` in input order until it returns true.
    template <class F>
    void for_each_input(F f) noexcept {
        if constexpr (k_dynamic) {
            for (auto& in : inputs())
                if (f(*future_access::state(in))) return;
        } else {
            std::apply([&](auto&... in) { static_cast<void>((f(*future_access::state(in)) || ...)); }, inputs());
        }
    }

    static void member_done(continuation* c, state_base& /*input*/) noexcept {
        auto* m = static_cast<member*>(c);
        combinator_state* self = m->m_owner;
        if constexpr (Any) {
            // acq_rel: the winner alone writes the index (before try_complete_stored's
            // release); the others only drop their reference.
            if (self->m_left.exchange(0, std::memory_order_acq_rel) == 1) {  // acq_rel: pairs with the other members' exchange on m_left
                self->value().index = static_cast<std::size_t>(m - self->members());
                self->try_complete_stored();
            }
        } else {
            // acq_rel: the last member sees every input done before it publishes.
            if (self->m_left.fetch_sub(1, std::memory_order_acq_rel) == 1)  // acq_rel: pairs with the other members' fetch_sub
                self->try_complete_stored();
        }
        self->release();
    }

    // 32 bits for the variadic forms: with the base's tail padding it keeps when_all and
    // when_any of two futures within the pool's 128-byte class.
    using counter_type = std::conditional_t<k_dynamic, std::size_t, std::uint32_t>;
    std::atomic<counter_type> m_left;  // when_all: inputs not done; when_any: 1 until one is
    std::conditional_t<k_dynamic, member*, std::array<member, k_dynamic ? 1 : Extent>> m_members{};
    [[no_unique_address]] std::conditional_t<k_dynamic, std::size_t, std::tuple<>> m_count{};
};

/// A range's combinator: the object and its members in one block from operator new,
/// the members right after the object.
template <class Sequence, bool Any>
class trailing_combinator_state final : public combinator_state<Sequence, Any, std::dynamic_extent> {
    using base = combinator_state<Sequence, Any, std::dynamic_extent>;
    using typename base::member;

public:
    struct member_count {
        std::size_t m_n;
    };
    // One block: the object, then m_n members (sizeof is a multiple of the object's
    // alignment, which is at least the member's). Global operator new: the size varies.
    static void* operator new(std::size_t size, member_count n) {
        static_assert(alignof(trailing_combinator_state) >= alignof(member));
        return ::operator new(size + n.m_n * sizeof(member));
    }
    static void operator delete(void* p, member_count /*n*/) noexcept { ::operator delete(p); }
    static void operator delete(void* p) noexcept { ::operator delete(p); }

    /// Only through new (member_count{n}), with `n` the number of inputs.
    trailing_combinator_state(Sequence inputs, std::size_t n) : base(std::move(inputs), n) {
        auto* raw = reinterpret_cast<unsigned char*>(this) + sizeof(trailing_combinator_state);
        for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(raw + i * sizeof(member))) member{};
        this->init_members(std::launder(reinterpret_cast<member*>(raw)), n);
    }
};

template <class T>
struct is_future_vector : std::false_type {};
template <class T>
struct is_future_vector<std::vector<future<T>>> : std::true_type {};

/// The combinator over `inputs` (a tuple or a vector of non-empty futures), armed.
template <bool Any, class Sequence>
auto make_combinator(Sequence inputs) {
    using value_type = combinator_value<Sequence, Any>;
    if constexpr (is_future_vector<Sequence>::value) {
        using state_type = trailing_combinator_state<Sequence, Any>;
        const std::size_t n = inputs.size();
        auto* s = new (typename state_type::member_count{n}) state_type(std::move(inputs), n);
        state_ptr<shared_state<value_type>> owner{s};  // the creator's work reference
        s->arm();
        return future_access::make<value_type>(std::move(owner));
    } else {
        constexpr std::size_t n = std::tuple_size_v<Sequence>;
        using state_type = combinator_state<Sequence, Any, n>;
        auto* s = new state_type(std::move(inputs), n);
        state_ptr<shared_state<value_type>> owner{s};  // the creator's work reference
        s->arm();
        return future_access::make<value_type>(std::move(owner));
    }
}

template <bool Any, class... Ts>
auto combine_variadic(future<Ts>... inputs) {
    (checked_state(inputs), ...);
    return make_combinator<Any>(std::tuple<future<Ts>...>{std::move(inputs)...});
}

template <bool Any, class It, class Sentinel>
auto combine_range(It first, Sentinel last) {
    using future_type = std::remove_cvref_t<std::iter_value_t<It>>;
    static_assert(is_future<future_type>::value, "weft::when_all/when_any: the range must hold weft::future");
    std::vector<future_type> inputs;
    if constexpr (std::sized_sentinel_for<Sentinel, It>)
        inputs.reserve(static_cast<std::size_t>(last - first));  // one allocation for the result
    for (; first != last; ++first) inputs.push_back(*first);  // moves through a move_iterator
    for (const auto& f : inputs) checked_state(f);
    return make_combinator<Any>(std::move(inputs));
}

/// combine_range over `range`, moving the handles out of a range passed as an rvalue
/// (so a move-only value can be taken out later: when_all_values).
template <bool Any, class R>
auto combine_range_of(std::remove_reference_t<R>& range) {
    if constexpr (std::is_lvalue_reference_v<R>)
        return combine_range<Any>(std::ranges::begin(range), std::ranges::end(range));
    else
        return combine_range<Any>(std::make_move_iterator(std::ranges::begin(range)),
                                  std::move_sentinel(std::ranges::end(range)));
}

template <class R>
concept future_range = std::ranges::input_range<R> && is_future<std::ranges::range_value_t<R>>::value;

}  // namespace detail

/// A future that is done when every input is done; it holds the inputs, each of which
/// then holds its own value, exception or cancellation. Thread-safe.
template <class... Ts>
[[nodiscard]] auto when_all(future<Ts>... inputs) {
    return detail::combine_variadic<false>(std::move(inputs)...);
}
/// when_all over [first, last): future<std::vector<future<T>>>.
template <std::input_iterator It, std::sentinel_for<It> Sentinel>
[[nodiscard]] auto when_all(It first, Sentinel last) {
    return detail::combine_range<false>(std::move(first), std::move(last));
}
/// when_all over a range of futures (a temporary container too).
template <detail::future_range R>
[[nodiscard]] auto when_all(R&& range) {
    return detail::combine_range_of<false, R>(range);
}

/// A future that is done when any input is done: when_any_result{index, futures}.
template <class... Ts>
[[nodiscard]] auto when_any(future<Ts>... inputs) {
    return detail::combine_variadic<true>(std::move(inputs)...);
}
/// when_any over [first, last).
template <std::input_iterator It, std::sentinel_for<It> Sentinel>
[[nodiscard]] auto when_any(It first, Sentinel last) {
    return detail::combine_range<true>(std::move(first), std::move(last));
}
/// when_any over a range of futures (a temporary container too).
template <detail::future_range R>
[[nodiscard]] auto when_any(R&& range) {
    return detail::combine_range_of<true, R>(range);
}

namespace detail {

/// What when_all_values holds for an input future<T>: T, or std::monostate for void.
template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// The value of a done input, taken out of the when_all_values's copy of its handle.
template <class T>
value_or_monostate<T> take_input(future<T>&& f) {
    if constexpr (std::is_void_v<T>) {
        std::move(f).get();
        return {};
    } else {
        return std::move(f).get();
    }
}

/// when_all_values's continuation over a range: the values in input order.
template <class T>
struct take_all_inputs {
    auto operator()(std::vector<future<T>>&& all) const {
        if constexpr (std::is_void_v<T>) {
            for (future<T>& f : all) std::move(f).get();
        } else {
            std::vector<T> values;
            values.reserve(all.size());
            for (future<T>& f : all) values.push_back(std::move(f).get());
            return values;
        }
    }
};

}  // namespace detail

/// A future of the inputs' values, once every input is done: future<std::tuple<Ts...>>
/// (std::monostate for a future<void>). Each value is moved out when the combinator
/// holds its input's only handle (the input was passed as an rvalue), copied otherwise.
/// If an input failed or was cancelled, the result fails with the exception (or
/// cancelled_error) of the first such input in argument order. Thread-safe.
template <class... Ts>
[[nodiscard]] auto when_all_values(future<Ts>... inputs) {
    return when_all(std::move(inputs)...).then([](std::tuple<future<Ts>...>&& all) {
        return std::apply(
            [](future<Ts>&... f) {
                // Braced: evaluated left to right, so the first failing input throws.
                return std::tuple<detail::value_or_monostate<Ts>...>{detail::take_input(std::move(f))...};
            },
            all);
    });
}

/// when_all_values over a range of future<T>: future<std::vector<T>> in input order
/// (future<void> for a range of future<void>).
template <detail::future_range R>
[[nodiscard]] auto when_all_values(R&& range) {
    using T = typename std::ranges::range_value_t<R>::value_type;
    return when_all(std::forward<R>(range)).then(detail::take_all_inputs<T>{});
}
/// when_all_values over [first, last).
template <std::input_iterator It, std::sentinel_for<It> Sentinel>
[[nodiscard]] auto when_all_values(It first, Sentinel last) {
    using T = typename std::iter_value_t<It>::value_type;
    return when_all(std::move(first), std::move(last)).then(detail::take_all_inputs<T>{});
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
