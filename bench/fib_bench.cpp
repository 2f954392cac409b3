// fib(n) fork-join, n = 30 unless `--n=`: one task per call, no cutoff other than n < 2.
//
// Every parallel peer starts the computation from the benchmark thread and runs the whole
// tree on its pool: weft through a task_group waited on from outside, oneTBB through
// task_arena::execute, OpenMP through `parallel` + `single`. TBB and OpenMP count the
// benchmark thread as one of their `workers` threads; weft runs `workers` threads while
// the benchmark thread blocks — the same number of threads compute in each.
//
// Each iteration's answer is compared with serial fib(n); a mismatch is an error.
// `serial` and the depth-limited `std_async_depth10` are references (their label says
// so): they run a different amount of scheduling, so bench_table.py leaves them out of
// "best peer".
#include "bench_support.hpp"

#include <weft/weft.hpp>

#include <cstdint>
#include <future>
#include <string>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif
#ifdef WEFT_BENCH_HAVE_OPENMP
#include <omp.h>
#endif

namespace {

using weft_bench::register_sweep;

constexpr int k_warmup_n = 20;
constexpr int k_async_levels = 10;  // std::async for the top 10 levels, serial below

int g_n = 30;
std::int64_t g_expected = 0;

std::int64_t fib_serial(int n) { return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2); }

bool check(benchmark::State& state, std::int64_t got, std::int64_t want) {
    if (got == want) {
        return true;
    }
    state.SkipWithError(("wrong answer: fib = " + std::to_string(got) + ", want " +
                         std::to_string(want))
                            .c_str());
    return false;
}

void bm_serial(benchmark::State& state) {
    state.SetLabel("reference: one thread, no tasks");
    for (auto _ : state) {
        // A volatile read hides n from the optimiser. (With benchmark 1.7.1's
        // DoNotOptimize(n) here — a "+m,r" asm constraint — the g++ 12 ASan build passed
        // fib_serial a garbage n and the recursion overflowed the stack.)
        const volatile int hidden_n = g_n;
        const int n = hidden_n;
        if (!check(state, fib_serial(n), g_expected)) {
            break;
        }
    }
}

// --- weft ------------------------------------------------------------------------------

std::int64_t fib_weft(weft::executor& ex, int n) {
    if (n < 2) {
        return n;
    }
    std::int64_t x = 0;
    weft::task_group g{ex};
    g.run([&] { x = fib_weft(ex, n - 1); });
    const std::int64_t y = fib_weft(ex, n - 2);
    g.wait();
    return x + y;
}

// The root runs on a worker; the benchmark thread only waits.
std::int64_t fib_weft_root(weft::executor& ex, int n) {
    std::int64_t result = 0;
    weft::task_group root{ex};
    root.run([&] { result = fib_weft(ex, n); });
    root.wait();
    return result;
}

void bm_weft(benchmark::State& state) {
    using workers_t = decltype(weft::executor_options{}.workers);
    weft::executor ex{weft::executor_options{.workers = static_cast<workers_t>(state.range(0))}};
    if (ex.worker_count() != static_cast<std::size_t>(state.range(0))) {
        state.SkipWithError("executor did not start the requested number of workers");
        return;
    }
    if (!check(state, fib_weft_root(ex, k_warmup_n), fib_serial(k_warmup_n))) {
        return;
    }
    for (auto _ : state) {
        if (!check(state, fib_weft_root(ex, g_n), g_expected)) {
            break;
        }
    }
}

// --- oneTBB ----------------------------------------------------------------------------

#ifdef WEFT_BENCH_HAVE_TBB
std::int64_t fib_tbb(int n) {
    if (n < 2) {
        return n;
    }
    std::int64_t x = 0;
    tbb::task_group g;
    g.run([&] { x = fib_tbb(n - 1); });
    const std::int64_t y = fib_tbb(n - 2);
    g.wait();
    return x + y;
}

void bm_tbb(benchmark::State& state) {
    const auto workers = static_cast<int>(state.range(0));
    // Lets the arena have `workers` threads even beyond the core count, like the others.
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);  // the benchmark thread fills one of the slots
    arena.initialize();
    if (arena.max_concurrency() != workers) {
        state.SkipWithError("task_arena did not take the requested concurrency");
        return;
    }
    auto root = [&](int n) {
        std::int64_t result = 0;
        arena.execute([&] { result = fib_tbb(n); });
        return result;
    };
    if (!check(state, root(k_warmup_n), fib_serial(k_warmup_n))) {
        return;
    }
    for (auto _ : state) {
        if (!check(state, root(g_n), g_expected)) {
            break;
        }
    }
}
#endif

// --- OpenMP ----------------------------------------------------------------------------

#ifdef WEFT_BENCH_HAVE_OPENMP
std::int64_t fib_omp(int n) {
    if (n < 2) {
        return n;
    }
    std::int64_t x = 0;
#pragma omp task shared(x) firstprivate(n)
    x = fib_omp(n - 1);
    const std::int64_t y = fib_omp(n - 2);
#pragma omp taskwait
    return x + y;
}

void bm_openmp(benchmark::State& state) {
    const auto workers = static_cast<int>(state.range(0));
    omp_set_dynamic(0);  // exactly `workers` threads in every team
    auto root = [&](int n, int& team) {
        std::int64_t result = 0;
#pragma omp parallel num_threads(workers) default(none) shared(n, team, result)
#pragma omp single
        {
            team = omp_get_num_threads();
            result = fib_omp(n);
        }
        return result;
    };
    int team = 0;
    if (!check(state, root(k_warmup_n, team), fib_serial(k_warmup_n))) {
        return;
    }
    if (team != workers) {
        state.SkipWithError("OpenMP team smaller than the requested number of threads");
        return;
    }
    for (auto _ : state) {
        if (!check(state, root(g_n, team), g_expected)) {
            break;
        }
    }
}
#endif

// --- std::async, depth-limited ---------------------------------------------------------

std::int64_t fib_async(int n, int level) {
    if (n < 2) {
        return n;
    }
    if (level >= k_async_levels) {
        return fib_serial(n);
    }
    auto x = std::async(std::launch::async, fib_async, n - 1, level + 1);
    const std::int64_t y = fib_async(n - 2, level + 1);
    return x.get() + y;
}

void bm_std_async(benchmark::State& state) {
    state.SetLabel("reference: depth-limited, std::async for the top " +
                   std::to_string(k_async_levels) + " levels, serial below");
    for (auto _ : state) {
        if (!check(state, fib_async(g_n, 0), g_expected)) {
            break;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    g_n = static_cast<int>(weft_bench::take_int_flag(argc, argv, "n", 30));
    g_expected = fib_serial(g_n);

    const auto ms = benchmark::kMillisecond;
    benchmark::RegisterBenchmark("fib/serial", bm_serial)->UseRealTime()->Unit(ms);
    register_sweep("fib/weft", bm_weft, workers)->Unit(ms);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("fib/tbb", bm_tbb, workers)->Unit(ms);
#endif
#ifdef WEFT_BENCH_HAVE_OPENMP
    register_sweep("fib/openmp", bm_openmp, workers)->Unit(ms);
#endif
    const std::string async_name = "fib/std_async_depth" + std::to_string(k_async_levels);
    benchmark::RegisterBenchmark(async_name.c_str(), bm_std_async)->UseRealTime()->Unit(ms);
    return weft_bench::run_benchmarks(argc, argv);
}
