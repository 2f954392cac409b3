// weft — parallel_pipeline: items from a source flow through stages, at most
// `max_in_flight` of them at once.
//
//   weft::parallel_pipeline(ex, 8,
//       weft::stage(weft::stage_mode::serial_in_order, [&]() -> std::optional<T> { ... }),  // nullopt ends
//       weft::stage(weft::stage_mode::parallel, [](T x) -> U { ... }),
//       weft::stage(weft::stage_mode::serial_in_order, [&](U y) { ... }));
//
// How it runs: a thread takes an item from the source (the source is always serial;
// items are numbered in the order it makes them) and carries it through its stages
// itself, then takes the next, while one more "feeding" task waits for a spare worker
// to take items beside it. A parallel stage runs at once. A serial stage runs one item
// at a time: an item that finds it busy (or, in order, not its turn) waits in the
// stage's ring without blocking its thread, and the item leaving the stage starts the
// next one as a task. An item that has left the last stage gives its token back, which
// lets the source make another item. Items live in a pool that is reused.
//
// Errors: the first exception (from any stage) stops the source; items in flight skip
// the rest of their stages; the call rethrows it once (later ones are dropped).
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <weft/algorithms.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weft {

/// How a pipeline stage takes its items.
enum class stage_mode {
    serial_in_order,      // one item at a time, in the order the source made them
    serial_out_of_order,  // one item at a time, in any order
    parallel,             // any number of items at once
};

/// A stage of a parallel_pipeline: its mode and its callable.
template <class F>
struct pipeline_stage {
    stage_mode m_mode;
    F m_fn;
};

/// Makes a pipeline stage.
template <class F>
pipeline_stage<std::decay_t<F>> stage(stage_mode mode, F&& f) {
    return {mode, std::forward<F>(f)};
}

namespace detail {

template <class T>
struct optional_value {
    static constexpr bool ok = false;
};
template <class T>
struct optional_value<std::optional<T>> {
    static constexpr bool ok = true;
    using type = T;
};

/// The input types of stages Fs..., the first being In: tuple<In, f1(In), f2(f1(In)), ...>
/// (the last stage's result is not an input).
template <class In, class... Fs>
struct stage_inputs {
    using type = std::tuple<>;
};
template <class In, class F, class... Fs>
struct stage_inputs<In, F, Fs...> {
    using type = decltype(std::tuple_cat(std::declval<std::tuple<In>>(),
                                         std::declval<typename stage_inputs<std::invoke_result_t<F&, In>, Fs...>::type>()));
};

template <class Tuple>
struct variant_of;
template <class... Ts>
struct variant_of<std::tuple<Ts...>> {
    using type = std::variant<std::monostate, Ts...>;
};

/// The most items a pipeline keeps in flight, whatever bound it is given: the bound
/// sizes the waiting rings of its serial stages.
inline constexpr std::size_t k_pipeline_max_in_flight = std::size_t{1} << 12;

/// At most `capacity` item pointers, first in first out, in a ring (no allocation after
/// construction). Not thread-safe.
template <class T>
class bounded_ring {
public:
    explicit bounded_ring(std::size_t capacity) : m_slots(capacity) {}
    bool empty() const noexcept { return m_size == 0; }
    void push(T* p) noexcept {  // precondition: fewer than capacity held
        m_slots[(m_head + m_size) % m_slots.size()] = p;
        ++m_size;
    }
    T* pop() noexcept {  // precondition: !empty()
        T* p = m_slots[m_head];
        m_head = (m_head + 1) % m_slots.size();
        --m_size;
        return p;
    }

private:
    std::vector<T*> m_slots;
    std::size_t m_head = 0;
    std::size_t m_size = 0;
};

/// One call of parallel_pipeline. Its members are used by the tasks of `m_group`, under
/// m_mutex (the source's state and the free items) or a stage's gate mutex.
///
/// A task "feeds": it takes a token and an item from the source and carries the item
/// through its stages on its own thread, then takes the next, until no token is free or
/// the source is done. Taking an item queues one more feeding task if tokens remain (at
/// most one is queued), so an idle worker can steal it and feed in parallel. An item that
/// finds a serial stage busy waits in the stage's ring without blocking the thread,
/// which goes on feeding; the item leaving the stage starts the next one as a task.
/// Items live in a pool that grows to the number in flight and is reused: a steady
/// pipeline allocates nothing per item.
template <class Source, class... Fs>
class pipeline_run {
    using value_type = typename optional_value<std::invoke_result_t<Source&>>::type;
    static constexpr std::size_t k_stages = sizeof...(Fs);
    using values = typename variant_of<typename stage_inputs<value_type, Fs...>::type>::type;

    struct item {
        std::uint64_t m_seq = 0;
        values m_value;  // index k + 1: the input of stage k
    };
    /// A serial stage's turn-taking. Guarded by m_mutex. The items waiting in order are
    /// all in flight, and so are all those between the stage's next and them, so their
    /// numbers fit a ring of the in-flight bound indexed by number.
    struct gate {
        explicit gate(std::size_t bound) : m_in_order(bound, nullptr), m_any_order(bound) {}
        std::mutex m_mutex;
        bool m_busy = false;
        std::uint64_t m_next = 0;          // serial_in_order: the item whose turn it is
        std::vector<item*> m_in_order;     // waiting for their turn, at seq % bound
        bounded_ring<item> m_any_order;    // waiting for the stage to be free
    };

    template <std::size_t... K>
    static std::array<gate, k_stages> make_gates(std::size_t bound, std::index_sequence<K...>) {
        return {((void)K, gate{bound})...};
    }

public:
    pipeline_run(task_group& g, std::size_t max_in_flight, pipeline_stage<Source>& source,
                 pipeline_stage<Fs>&... stages)
        : m_group{g},
          m_bound{std::min(max_in_flight, k_pipeline_max_in_flight)},
          m_tokens{m_bound},
          m_source{source},
          m_stages{stages...},
          m_gates{make_gates(m_bound, std::make_index_sequence<k_stages>{})} {
        m_pool.reserve(m_bound);
        m_free.reserve(m_bound);
    }

    /// The body of a feeding task (and of the call's first one).
    void feed_task() {
        {
            const std::lock_guard lock{m_mutex};
            m_feeder_queued = false;
        }
        feed();
    }

    void rethrow_if_failed() { m_ctl.rethrow_if_failed(); }

private:
    /// Takes items from the source and carries each as far as it goes, until no token is
    /// free, another thread is taking one, or the source is done.
    void feed() {
        for (;;) {
            bool queue_feeder = false;
            item* it = take_item(queue_feeder);
            if (it == nullptr) return;
            if (queue_feeder) m_group.run([this] { feed_task(); });
            run_stage<0>(it, false);
        }
    }

    /// A token and a new item from the source, or nullptr. Sets `queue_feeder` when the
    /// caller should queue another feeding task (tokens remain and none is queued).
    item* take_item(bool& queue_feeder) {
        {
            const std::lock_guard lock{m_mutex};
            if (m_producing || m_source_done || m_tokens == 0) return nullptr;
            m_producing = true;
            --m_tokens;
        }
        std::optional<value_type> v;
        if (!m_ctl.stopped()) {
            try {
                v = m_source.m_fn();
            } catch (...) {
                m_ctl.fail(std::current_exception());
            }
        }
        item* it = nullptr;
        {
            const std::lock_guard lock{m_mutex};
            m_producing = false;
            if (!v) {
                m_source_done = true;
                ++m_tokens;
                return nullptr;
            }
            if (m_free.empty()) {
                m_pool.push_back(std::make_unique<item>());  // at most m_bound, once each
                m_free.push_back(m_pool.back().get());
            }
            it = m_free.back();
            m_free.pop_back();
            it->m_seq = m_next_seq++;
            queue_feeder = m_tokens > 0 && !m_feeder_queued;
            m_feeder_queued = m_feeder_queued || queue_feeder;
        }
        it->m_value.template emplace<1>(std::move(*v));
        return it;
    }

    /// Runs stage K for `it` (if its gate lets it in now; `entered`: already let in),
    /// then the stages after it, on this thread; at the end gives its token back.
    template <std::size_t K>
    void run_stage(item* it, bool entered) {
        auto& st = std::get<K>(m_stages);
        const bool serial = st.m_mode != stage_mode::parallel;
        if (serial && !entered && !enter(std::get<K>(m_gates), st.m_mode, it)) return;  // waits in the gate
        if (!m_ctl.stopped()) {
            try {
                auto& in = std::get<K + 1>(it->m_value);
                if constexpr (K + 1 == k_stages) {
                    st.m_fn(std::move(in));
                } else {
                    auto out = st.m_fn(std::move(in));
                    it->m_value.template emplace<K + 2>(std::move(out));
                }
            } catch (...) {
                m_ctl.fail(std::current_exception());
            }
        }
        if (serial) leave<K>(st.m_mode);
        if constexpr (K + 1 < k_stages) {
            run_stage<K + 1>(it, false);
        } else {
            it->m_value.template emplace<0>();  // the last input goes now, not at reuse
            const std::lock_guard lock{m_mutex};
            m_free.push_back(it);
            ++m_tokens;
        }
    }

    /// True if `it` may run the serial stage now; else it waits in the gate.
    bool enter(gate& g, stage_mode mode, item* it) {
        const std::lock_guard lock{g.m_mutex};
        if (!g.m_busy && (mode != stage_mode::serial_in_order || it->m_seq == g.m_next)) {
            g.m_busy = true;
            return true;
        }
        if (mode == stage_mode::serial_in_order)
            g.m_in_order[it->m_seq % m_bound] = it;
        else
            g.m_any_order.push(it);
        return false;
    }

    /// An item left serial stage K: the next one waiting (if any) runs it, as a task
    /// that then feeds (its item gives a token back).
    template <std::size_t K>
    void leave(stage_mode mode) {
        gate& g = std::get<K>(m_gates);
        item* next = nullptr;
        {
            const std::lock_guard lock{g.m_mutex};
            g.m_busy = false;
            if (mode == stage_mode::serial_in_order) {
                ++g.m_next;
                std::swap(next, g.m_in_order[g.m_next % m_bound]);
            } else if (!g.m_any_order.empty()) {
                next = g.m_any_order.pop();
            }
            if (next != nullptr) g.m_busy = true;
        }
        if (next != nullptr) {
            m_group.run([this, next] {
                run_stage<K>(next, true);
                feed();
            });
        }
    }

    task_group& m_group;
    loop_control m_ctl;
    const std::size_t m_bound;  // items in flight at most
    std::mutex m_mutex;         // the source's state and the free items below
    std::size_t m_tokens;
    bool m_producing = false;
    bool m_source_done = false;
    bool m_feeder_queued = false;
    std::uint64_t m_next_seq = 0;
    std::vector<std::unique_ptr<item>> m_pool;
    std::vector<item*> m_free;
    pipeline_stage<Source>& m_source;
    std::tuple<pipeline_stage<Fs>&...> m_stages;
    std::array<gate, k_stages> m_gates;
};

}  // namespace detail

/// Runs a pipeline on `ex`: `source()` returns std::optional<T> (nullopt: no more items)
/// and always runs serially; each later stage takes the previous stage's result (the
/// last one's result is dropped); at most `max_in_flight` items are between the source
/// and the end at once. Returns when every item has left the last stage. Throws
/// std::invalid_argument for max_in_flight == 0; rethrows the first exception of a
/// stage (the source stops, items in flight skip their remaining stages).
template <class Source, class... Fs>
void parallel_pipeline(executor& ex, std::size_t max_in_flight, pipeline_stage<Source> source,
                       pipeline_stage<Fs>... stages) {
    static_assert(sizeof...(Fs) >= 1, "weft::parallel_pipeline: a source and at least one more stage");
    static_assert(detail::optional_value<std::invoke_result_t<Source&>>::ok,
                  "weft::parallel_pipeline: the source must return std::optional<T>");
    if (max_in_flight == 0) throw std::invalid_argument("weft::parallel_pipeline: max_in_flight must be at least 1");
    detail::run_on_executor(ex, [&] {
        task_group g{ex};
        detail::pipeline_run<Source, Fs...> run{g, max_in_flight, source, stages...};
        run.feed_task();
        g.wait();
        run.rethrow_if_failed();
    });
}

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
