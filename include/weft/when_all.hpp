// weft — combinators over futures: when_all and when_any.
//
// Both are built from continuations only: each input future gets one small node that
// counts down (when_all) or races to be first (when_any) on the thread that completes
// that input. No thread per combinator, no polling.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/future.hpp>

#include <atomic>
#include <cstddef>
#include <iterator>
#include <memory>
#include <ranges>
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

/// The state of a when_all or when_any over `Sequence`; `Any` picks the rule.
template <class Sequence, bool Any>
class combinator_state final
    : public shared_state<std::conditional_t<Any, when_any_result<Sequence>, Sequence>> {
    struct member final : continuation {
        combinator_state* m_owner = nullptr;
        state_base* m_input = nullptr;
        std::size_t m_index = 0;
    };

public:
    combinator_state(Sequence inputs, std::vector<state_base*> states)
        : m_inputs{std::move(inputs)}, m_members(states.size()), m_left{states.size()} {
        for (std::size_t i = 0; i < states.size(); ++i) {
            m_members[i].m_owner = this;
            m_members[i].m_input = states[i];
            m_members[i].m_index = i;
            m_members[i].m_run = &member_done;
        }
    }

    /// Adds the members to their inputs. Each member holds a reference to this state;
    /// an input that is already done runs its member at once, so the members read their
    /// input from m_members, never from m_inputs (which the last one moves away).
    void arm() noexcept {
        if (m_members.empty()) {
            finish_with(when_any_result<Sequence>{}.npos);
            return;
        }
        for (member& m : m_members) {
            this->add_ref();
            m.m_input->add_continuation(&m);
        }
    }

    /// A waiter awaits the inputs too: it runs those it may claim (when_any: until one
    /// ran). The input states live as long as this state (m_inputs holds them, and the
    /// value it moves into), so m_members' pointers stay valid for the waiter.
    bool try_claim() noexcept override {
        bool ran = false;
        for (member& m : m_members) {
            if (m.m_input->is_done()) continue;
            ran |= m.m_input->try_claim();
            if (Any && ran) break;
        }
        return ran;
    }

private:
    static void member_done(continuation* c, state_base& /*input*/) noexcept {
        auto* m = static_cast<member*>(c);
        combinator_state* self = m->m_owner;
        if constexpr (Any) {
            // acq_rel: the winner alone moves m_inputs; losers only drop their reference.
            if (!self->m_fired.exchange(true, std::memory_order_acq_rel)) self->finish_with(m->m_index);
        } else {
            // acq_rel: the last member sees every input done before it moves m_inputs.
            if (self->m_left.fetch_sub(1, std::memory_order_acq_rel) == 1) self->finish_with(0);
        }
        self->release();
    }

    void finish_with(std::size_t index) noexcept {
        if constexpr (Any) {
            this->try_set_value(when_any_result<Sequence>{index, std::move(m_inputs)});
        } else {
            this->try_set_value(std::move(m_inputs));
        }
    }

    Sequence m_inputs;
    std::vector<member> m_members;
    std::atomic<std::size_t> m_left;
    std::atomic<bool> m_fired{false};
};

template <bool Any, class Sequence>
auto make_combinator(Sequence inputs, std::vector<state_base*> states) {
    using state_type = combinator_state<Sequence, Any>;
    using value_type = std::conditional_t<Any, when_any_result<Sequence>, Sequence>;
    auto* s = new state_type(std::move(inputs), std::move(states));
    state_ptr<shared_state<value_type>> owner{s};
    s->arm();
    return future_access::make<value_type>(std::move(owner));
}

template <bool Any, class... Ts>
auto combine_variadic(future<Ts>... inputs) {
    std::vector<state_base*> states{checked_state(inputs)...};
    return make_combinator<Any>(std::tuple<future<Ts>...>{std::move(inputs)...}, std::move(states));
}

template <bool Any, class It, class Sentinel>
auto combine_range(It first, Sentinel last) {
    using future_type = std::remove_cvref_t<std::iter_value_t<It>>;
    static_assert(is_future<future_type>::value, "weft::when_all/when_any: the range must hold weft::future");
    std::vector<future_type> inputs;
    for (; first != last; ++first) inputs.push_back(*first);  // moves through a move_iterator
    std::vector<state_base*> states;
    states.reserve(inputs.size());
    for (const auto& f : inputs) states.push_back(checked_state(f));
    return make_combinator<Any>(std::move(inputs), std::move(states));
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
