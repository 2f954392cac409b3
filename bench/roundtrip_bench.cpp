// Round trip on a warm pool: an outside thread hands one task to the pool and waits for
// its result; one iteration is one round trip, so the time per iteration is the latency.
//
//   weft        task_group{ex}; run(task); wait()       (wait() blocks outside a worker)
//   weft_post   executor::post(task) + done_flag        (the same wait as the peers below)
//   tbb         task_arena(workers, 0)::enqueue(task) + done_flag
//   mutex_pool  submit(task) + done_flag
//   std_async   std::async(std::launch::async, task).get()   — a new thread every time
//
// The task writes the iteration's number into the result; the benchmark thread checks it
// after the wait, so a lost or stale task is an error. 1000 untimed round trips warm each
// pool up first.
#include "bench_support.hpp"
#include "peers/mutex_pool.hpp"

#include <weft/weft.hpp>

#include <cstdint>
#include <future>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#endif

namespace {

using weft_bench::done_flag;

constexpr int k_warmup_round_trips = 1000;

// Runs `round_trip(i)` untimed k_warmup_round_trips times, then once per iteration; each
// call must return i.
template <class RoundTrip>
void drive(benchmark::State& state, RoundTrip round_trip) {
    std::int64_t i = 0;
    for (; i < k_warmup_round_trips; ++i) {
        if (round_trip(i) != i) {
            state.SkipWithError("wrong result during warm-up");
            return;
        }
    }
    for (auto _ : state) {
        if (round_trip(i) != i) {
            state.SkipWithError("round trip returned a wrong or stale result");
            break;
        }
        ++i;
    }
}

template <class Submit>
auto flag_round_trip(Submit& submit, done_flag& done) {
    return [&submit, &done](std::int64_t i) {
        std::int64_t result = -1;
        done.reset();
        submit([&result, &done, i] {
            result = i;
            done.set();
        });
        done.wait();  // done's acquire makes `result` visible
        return result;
    };
}

weft::executor_options options_for(benchmark::State& state) {
    using workers_t = decltype(weft::executor_options{}.workers);
    return weft::executor_options{.workers = static_cast<workers_t>(state.range(0))};
}

void bm_weft(benchmark::State& state) {
    weft::executor ex{options_for(state)};
    if (ex.worker_count() != static_cast<std::size_t>(state.range(0))) {
        state.SkipWithError("executor did not start the requested number of workers");
        return;
    }
    drive(state, [&](std::int64_t i) {
        std::int64_t result = -1;
        weft::task_group g{ex};
        g.run([&result, i] { result = i; });
        g.wait();
        return result;
    });
}

void bm_weft_post(benchmark::State& state) {
    static done_flag done;  // static: see completion_latch in bench_support.hpp
    weft::executor ex{options_for(state)};
    auto submit = [&](auto task) { ex.post(std::move(task)); };
    drive(state, flag_round_trip(submit, done));
}

#ifdef WEFT_BENCH_HAVE_TBB
void bm_tbb(benchmark::State& state) {
    static done_flag done;
    const auto workers = static_cast<int>(state.range(0));
    // `workers + 1`: max_allowed_parallelism counts one master; see submit_bench.cpp.
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers) + 1);
    tbb::task_arena arena(workers, 0);
    arena.initialize();
    auto submit = [&](auto task) { arena.enqueue(std::move(task)); };
    drive(state, flag_round_trip(submit, done));
}
#endif

void bm_mutex_pool(benchmark::State& state) {
    static done_flag done;
    weft_bench::mutex_pool pool(static_cast<std::size_t>(state.range(0)));
    auto submit = [&](auto task) { pool.submit(std::move(task)); };
    drive(state, flag_round_trip(submit, done));
}

void bm_std_async(benchmark::State& state) {
    state.SetLabel("a new thread per round trip");
    drive(state, [](std::int64_t i) {
        return std::async(std::launch::async, [i] { return i; }).get();
    });
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    const auto us = benchmark::kMicrosecond;
    weft_bench::register_sweep("roundtrip/weft", bm_weft, workers)->Unit(us);
    weft_bench::register_sweep("roundtrip/weft_post", bm_weft_post, workers)->Unit(us);
#ifdef WEFT_BENCH_HAVE_TBB
    weft_bench::register_sweep("roundtrip/tbb", bm_tbb, workers)->Unit(us);
#endif
    weft_bench::register_sweep("roundtrip/mutex_pool", bm_mutex_pool, workers)->Unit(us);
    benchmark::RegisterBenchmark("roundtrip/std_async", bm_std_async)->UseRealTime()->Unit(us);
    return weft_bench::run_benchmarks(argc, argv);
}
