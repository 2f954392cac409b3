// weft model tests — Relacy model of detail/future_state.hpp's ref_count, the template
// that ships, compiled against rl_atomics: the reference count of a future's state, in
// which readers (future handles, continuations) are counted apart from work references
// (a queued task), so that a reader that finds itself the only one may move the value
// out (future<T>::get() &&, then() on an rvalue).
//
// The value is an rl::var<int>: the move is a write, every other reader's use a read; a
// read without a happens-before edge to the move is a DATA RACE. The state's deletion is
// a write to another rl::var by whichever owner drops the last reference.
//
//   mover (a reader: std::move(f).get())     other reader (a copy of f, a continuation)
//   -----------------------------------      ----------------------------------------
//   if readers() == 1: value = moved         read value
//   else:              read value (copy)     drop(reader)
//   drop(reader)
//   task (a work reference: the producing task, finishing)
//   -----------------------------------
//   drop(work)
//   whoever's drop() returns true: deleted = 1 (exactly once)
//
// Scenarios:
//   two_readers       mover + other reader + task.
//   three_readers     mover + two other readers (each finds the count it finds).
// after() checks the state was deleted exactly once. Mutants: relaxed_drop (a reader's
// release publishes nothing: its read races with the move), relaxed_reader_count (the
// mover's check acquires nothing: the same race).
#include <weft/detail/future_state.hpp>

#include <cstdint>
#include <vector>

#include "model_runner.hpp"

namespace weft::model {
namespace {

using weft::detail::future_fault;

constexpr int k_value = 42;
constexpr int k_moved_from = -1;

template <future_fault Fault, unsigned OtherReaders>
struct ref_count_test : rl::test_suite<ref_count_test<Fault, OtherReaders>, 2 + OtherReaders> {
    using count_t = weft::detail::ref_count<rl_atomics, Fault>;

    // The mover's reader, the other readers, the task's work reference.
    count_t m_refs{2 + OtherReaders, 1 + OtherReaders};
    rl::var<int> m_value;
    rl::var<int> m_deleted;
    unsigned m_deletes = 0;  // plain: the checker's own state

    void before() {
        m_value($) = k_value;
        m_deleted($) = 0;
    }

    void after() { RL_ASSERT(m_deletes == 1); }

    void drop(bool reader) {
        if (!m_refs.drop(reader)) return;
        m_deleted($) = 1;  // the delete: after every other owner's last access
        ++m_deletes;
    }

    void mover() {
        if (m_refs.readers() == 1) {
            m_value($) = k_moved_from;  // the move: nobody may read it any more
        } else {
            RL_ASSERT(m_value($) == k_value);  // a copy: the value is still there
        }
        drop(true);
    }

    void other_reader() {
        RL_ASSERT(m_value($) == k_value);  // never a moved-from value
        drop(true);
    }

    void thread(unsigned index) {
        if (index == 0)
            mover();
        else if (index == 1)
            drop(false);  // the task
        else
            other_reader();
    }
};

constexpr search_config k_full{rl::sched_full, 0, 0};
constexpr search_config k_bound3{rl::sched_bound, 0, 3};

template <future_fault Fault>
std::vector<scenario> scenarios() {
    using two_readers = ref_count_test<Fault, 1>;
    using three_readers = ref_count_test<Fault, 2>;
    return {
        {"two_readers", [] { return simulate_scenario<two_readers>("two_readers", k_full); }},
        {"three_readers", [] { return simulate_scenario<three_readers>("three_readers", k_bound3); }},
    };
}

}  // namespace
}  // namespace weft::model

int main(int argc, char** argv) {
    using namespace weft::model;
    using weft::detail::future_fault;
    const std::vector<variant> variants{
        {"none", false, scenarios<future_fault::none>()},
        {"relaxed_drop", true, scenarios<future_fault::relaxed_drop>()},
        {"relaxed_reader_count", true, scenarios<future_fault::relaxed_reader_count>()},
    };
    return run_model_main("ref_count", variants, argc, argv);
}
