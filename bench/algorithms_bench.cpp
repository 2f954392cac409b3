// Parallel algorithms: weft::parallel_for and weft::parallel_reduce against oneTBB's
// tbb::parallel_for / tbb::parallel_reduce, OpenMP worksharing loops and the serial loop.
//
// Families (sizes from the flags; the defaults are issue 11's):
//   for_small   out[i] = in[i] * 2 + k over --for_small=1000 floats
//   for_medium  the same over --for_medium=1000000 floats
//   for_large   the same over --for_large=100000000 floats (two arrays: 800 MB in all;
//               floats rather than doubles, so that the largest run stays under 1 GB)
//   reduce_sum  the sum of --reduce=100000000 doubles (one array: 800 MB; the for
//               arrays are freed first)
//   sort        sorting --sort=10000000 random ints (std::sort / weft::parallel_sort /
//               tbb::parallel_sort); the input is restored before every call, untimed
//   scan        the inclusive prefix sum of --scan=100000000 longs in place (800 MB;
//               std::inclusive_scan / weft::parallel_inclusive_scan / tbb::parallel_scan);
//               the input is restored before every call, untimed
//   pipeline    a 3-stage pipeline of --pipeline=1000000 items: a serial in-order source
//               (0, 1, 2, ...), a parallel stage of --pipeline_work=200 xorshift steps
//               per item, a serial in-order sink that checks the order and sums
//               (weft::parallel_pipeline / tbb::parallel_pipeline, 4 items per worker in
//               flight; serial: the same three calls in one loop)
// in[i] is i % 1024, so every result is exact in float and double.
//
// Implementations (one iteration is one call of the algorithm):
//   serial           the plain loop on the benchmark thread
//   weft             weft::parallel_for / parallel_reduce called from the benchmark
//                    thread, which blocks; `workers` worker threads run the loop (lazy
//                    splitting, the default)
//   weft_static      the same with weft::static_partition (for families only)
//   weft_in_worker   the whole timed loop runs inside one task on a worker, so every
//                    call runs in place, as a nested call does (no hand-off, no wake-up)
//   tbb              tbb::parallel_for / parallel_reduce over a blocked_range (auto
//                    partitioner) inside task_arena(workers).execute; as in fib_bench the
//                    benchmark thread fills one of the arena's slots and global_control
//                    allows `workers` threads in all
//   openmp_static    #pragma omp parallel for schedule(static) num_threads(workers)
//                    (reduce: reduction(+ : sum))
//   openmp_dynamic   schedule(dynamic, 4096), 4096 being weft's largest default chunk
//                    (for families only)
//
// Checks: sort compares the result with std::sort's; scan checks every prefix against
// its closed form; pipeline checks that the sink saw 0, 1, 2, ... and the serial sum.
// parallel_for's k changes every iteration (0, 1, 2, 3, 0, ...); after the timed
// loop every out[i] must equal in[i] * 2 + k of the last iteration (a first, untimed call
// is checked the same way). Each reduction's sum is compared with the exact one. A wrong
// answer is an error (SkipWithError).
#include "bench_support.hpp"

#include <weft/algorithms.hpp>
#include <weft/parallel_pipeline.hpp>
#include <weft/parallel_scan.hpp>
#include <weft/parallel_sort.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/parallel_scan.h>
#include <oneapi/tbb/parallel_sort.h>
#include <oneapi/tbb/task_arena.h>
#endif
#ifdef WEFT_BENCH_HAVE_OPENMP
#include <omp.h>
#endif

namespace {

using weft_bench::register_sweep;

std::int64_t g_for_sizes[3] = {1'000, 1'000'000, 100'000'000};
std::int64_t g_reduce_n = 100'000'000;
std::int64_t g_sort_n = 10'000'000;
std::int64_t g_scan_n = 100'000'000;
std::int64_t g_pipeline_n = 1'000'000;
std::int64_t g_pipeline_work = 200;

// The data, shared by every benchmark of a family and sized for the largest one; the
// for arrays are freed before the reduce array is made, so only one family's data lives.
std::vector<float> g_in;
std::vector<float> g_out;
std::vector<double> g_values;
std::vector<int> g_sort_input;   // random ints
std::vector<int> g_sort_sorted;  // std::sort of g_sort_input
std::vector<int> g_sort_work;    // what each call sorts
std::vector<long> g_scan;        // scanned in place; restored before every call

/// Frees every family's data but the one about to be used.
void release_except(const void* keep) {
    if (keep != &g_in) {
        g_in = std::vector<float>{};
        g_out = std::vector<float>{};
    }
    if (keep != &g_values) {
        g_values = std::vector<double>{};
    }
    if (keep != &g_sort_input) {
        g_sort_input = std::vector<int>{};
        g_sort_sorted = std::vector<int>{};
        g_sort_work = std::vector<int>{};
    }
    if (keep != &g_scan) {
        g_scan = std::vector<long>{};
    }
}

float input_at(std::size_t i) {
    return static_cast<float>(i % 1024);
}

void ensure_for_data(std::size_t n) {
    release_except(&g_in);
    if (g_in.size() >= n) {
        return;
    }
    g_in.resize(n);
    g_out.assign(n, -1.0F);
    for (std::size_t i = 0; i < n; ++i) {
        g_in[i] = input_at(i);
    }
}

double ensure_reduce_data(std::size_t n) {
    release_except(&g_values);
    if (g_values.size() != n) {
        g_values.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            g_values[i] = static_cast<double>(i % 1024);
        }
    }
    // The exact sum of i % 1024 over [0, n): whole rounds of 0 .. 1023, then a tail.
    const std::uint64_t rounds = n / 1024;
    const std::uint64_t tail = n % 1024;
    return static_cast<double>(rounds * (1023 * 1024 / 2) + tail * (tail - 1) / 2);
}

/// One family's problem: its size, and the arrays (for families) or the expected sum.
struct problem {
    std::size_t n = 0;
    const float* in = nullptr;
    float* out = nullptr;
};

problem for_problem(std::size_t n) {
    ensure_for_data(n);
    return problem{n, g_in.data(), g_out.data()};
}

/// out[i] == in[i] * 2 + k for every i; otherwise an error naming the first wrong index.
bool check_for(benchmark::State& state, const problem& p, float k) {
    for (std::size_t i = 0; i < p.n; ++i) {
        if (p.out[i] != p.in[i] * 2.0F + k) {
            state.SkipWithError(("wrong answer: out[" + std::to_string(i) +
                                 "] = " + std::to_string(p.out[i]) + ", expected " +
                                 std::to_string(p.in[i] * 2.0F + k))
                                    .c_str());
            return false;
        }
    }
    return true;
}

bool check_sum(benchmark::State& state, double got, double expected) {
    if (got == expected) {
        return true;
    }
    state.SkipWithError(
        ("wrong answer: sum " + std::to_string(got) + ", expected " + std::to_string(expected))
            .c_str());
    return false;
}

void skip_on_exception(benchmark::State& state, const char* where) {
    try {
        throw;
    } catch (const std::exception& e) {
        state.SkipWithError((std::string{where} + " threw: " + e.what()).c_str());
    } catch (...) {
        state.SkipWithError((std::string{where} + " threw a non-std exception").c_str());
    }
}

/// Runs the timed loop of a for family: `call(k)` computes out = in * 2 + k once.
template <class Call>
void for_loop(benchmark::State& state, const problem& p, Call&& call) {
    call(3.0F);  // warm-up, checked
    if (!check_for(state, p, 3.0F)) {
        return;
    }
    float k = 0.0F;
    float last = 0.0F;
    for (auto _ : state) {
        call(k);
        benchmark::ClobberMemory();
        last = k;
        k = k == 3.0F ? 0.0F : k + 1.0F;
    }
    if (state.iterations() > 0) {
        check_for(state, p, last);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(p.n));
}

/// Runs the timed loop of reduce_sum: `call()` returns the sum.
template <class Call>
void reduce_loop(benchmark::State& state, std::size_t n, double expected, Call&& call) {
    if (!check_sum(state, call(), expected)) {  // warm-up, checked
        return;
    }
    for (auto _ : state) {
        if (!check_sum(state, call(), expected)) {
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
}

// --- serial ------------------------------------------------------------------------------

void bm_for_serial(benchmark::State& state, std::size_t n) {
    const problem p = for_problem(n);
    for_loop(state, p, [&p](float k) {
        for (std::size_t i = 0; i < p.n; ++i) {
            p.out[i] = p.in[i] * 2.0F + k;
        }
    });
}

double sum_serial(const double* v, std::size_t n) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        sum += v[i];
    }
    return sum;
}

void bm_reduce_serial(benchmark::State& state, std::size_t n) {
    const double expected = ensure_reduce_data(n);
    const double* v = g_values.data();
    reduce_loop(state, n, expected, [v, n] { return sum_serial(v, n); });
}

// --- weft --------------------------------------------------------------------------------

enum class weft_mode { lazy, static_blocks, in_worker };

weft::executor_options options_for(benchmark::State& state) {
    using workers_t = decltype(weft::executor_options{}.workers);
    return weft::executor_options{.workers = static_cast<workers_t>(state.range(0))};
}

bool executor_ok(benchmark::State& state, const weft::executor& ex) {
    if (ex.worker_count() == static_cast<std::size_t>(state.range(0))) {
        return true;
    }
    state.SkipWithError("executor did not start the requested number of workers");
    return false;
}

/// Runs `loop()` (the whole timed loop) on the benchmark thread, or inside one task on a
/// worker of `ex` for weft_in_worker.
template <class Loop>
void run_timed(weft::executor& ex, weft_mode mode, Loop&& loop) {
    if (mode != weft_mode::in_worker) {
        loop();
        return;
    }
    std::promise<void> done;
    ex.post([&] {
        try {
            loop();
            done.set_value();
        } catch (...) {
            done.set_exception(std::current_exception());
        }
    });
    done.get_future().get();
}

void bm_for_weft(benchmark::State& state, std::size_t n, weft_mode mode) {
    try {
        weft::executor ex{options_for(state)};
        if (!executor_ok(state, ex)) {
            return;
        }
        const problem p = for_problem(n);
        auto body = [&p](float k) {
            return [&p, k](std::size_t i) { p.out[i] = p.in[i] * 2.0F + k; };
        };
        run_timed(ex, mode, [&] {
            if (mode == weft_mode::static_blocks) {
                for_loop(state, p, [&](float k) {
                    weft::parallel_for(ex, std::size_t{0}, p.n, body(k), weft::static_partition);
                });
            } else {
                for_loop(state, p,
                         [&](float k) { weft::parallel_for(ex, std::size_t{0}, p.n, body(k)); });
            }
        });
    } catch (...) {
        skip_on_exception(state, "weft::parallel_for");
    }
}

void bm_reduce_weft(benchmark::State& state, std::size_t n, weft_mode mode) {
    try {
        weft::executor ex{options_for(state)};
        if (!executor_ok(state, ex)) {
            return;
        }
        const double expected = ensure_reduce_data(n);
        const double* v = g_values.data();
        auto call = [&] {
            return weft::parallel_reduce(
                ex, std::size_t{0}, n, 0.0, [v](double acc, std::size_t i) { return acc + v[i]; },
                [](double a, double b) { return a + b; });
        };
        run_timed(ex, mode, [&] { reduce_loop(state, n, expected, call); });
    } catch (...) {
        skip_on_exception(state, "weft::parallel_reduce");
    }
}

// --- oneTBB ------------------------------------------------------------------------------

#ifdef WEFT_BENCH_HAVE_TBB
/// global_control + task_arena(workers), as fib_bench's peer; false (and skipped) if the
/// arena did not take the concurrency.
bool arena_ok(benchmark::State& state, tbb::task_arena& arena) {
    arena.initialize();
    if (arena.max_concurrency() == static_cast<int>(state.range(0))) {
        return true;
    }
    state.SkipWithError("task_arena did not take the requested concurrency");
    return false;
}

void bm_for_tbb(benchmark::State& state, std::size_t n) {
    const auto workers = static_cast<int>(state.range(0));
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);  // the benchmark thread fills one of the slots
    if (!arena_ok(state, arena)) {
        return;
    }
    const problem p = for_problem(n);
    for_loop(state, p, [&](float k) {
        arena.execute([&] {
            tbb::parallel_for(tbb::blocked_range<std::size_t>(0, p.n),
                              [&p, k](const tbb::blocked_range<std::size_t>& r) {
                                  for (std::size_t i = r.begin(); i != r.end(); ++i) {
                                      p.out[i] = p.in[i] * 2.0F + k;
                                  }
                              });
        });
    });
}

void bm_reduce_tbb(benchmark::State& state, std::size_t n) {
    const auto workers = static_cast<int>(state.range(0));
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);
    if (!arena_ok(state, arena)) {
        return;
    }
    const double expected = ensure_reduce_data(n);
    const double* v = g_values.data();
    reduce_loop(state, n, expected, [&] {
        double sum = 0.0;
        arena.execute([&] {
            sum = tbb::parallel_reduce(
                tbb::blocked_range<std::size_t>(0, n), 0.0,
                [v](const tbb::blocked_range<std::size_t>& r, double acc) {
                    for (std::size_t i = r.begin(); i != r.end(); ++i) {
                        acc += v[i];
                    }
                    return acc;
                },
                [](double a, double b) { return a + b; });
        });
        return sum;
    });
}
#endif

// --- OpenMP ------------------------------------------------------------------------------

#ifdef WEFT_BENCH_HAVE_OPENMP
/// True when a team of `workers` threads forms; OpenMP may give fewer.
bool team_ok(benchmark::State& state, int workers) {
    omp_set_dynamic(0);  // exactly `workers` threads in every team
    int team = 0;
#pragma omp parallel num_threads(workers) default(none) shared(team)
#pragma omp single
    team = omp_get_num_threads();
    if (team == workers) {
        return true;
    }
    state.SkipWithError("OpenMP team smaller than the requested number of threads");
    return false;
}

void scale_openmp_static(const float* in, float* out, std::int64_t count, float k, int workers) {
#pragma omp parallel for schedule(static) num_threads(workers) default(none) \
    shared(in, out, count, k)
    for (std::int64_t i = 0; i < count; ++i) {
        out[i] = in[i] * 2.0F + k;
    }
}

void scale_openmp_dynamic(const float* in, float* out, std::int64_t count, float k, int workers) {
#pragma omp parallel for schedule(dynamic, 4096) num_threads(workers) default(none) \
    shared(in, out, count, k)
    for (std::int64_t i = 0; i < count; ++i) {
        out[i] = in[i] * 2.0F + k;
    }
}

double sum_openmp(const double* v, std::int64_t count, int workers) {
    double sum = 0.0;
#pragma omp parallel for schedule(static) num_threads(workers) default(none) shared(v, count) \
    reduction(+ : sum)
    for (std::int64_t i = 0; i < count; ++i) {
        sum += v[i];
    }
    return sum;
}

void bm_for_openmp(benchmark::State& state, std::size_t n, bool dynamic) {
    const auto workers = static_cast<int>(state.range(0));
    if (!team_ok(state, workers)) {
        return;
    }
    const problem p = for_problem(n);
    const auto count = static_cast<std::int64_t>(p.n);
    for_loop(state, p, [&](float k) {
        if (dynamic) {
            scale_openmp_dynamic(p.in, p.out, count, k, workers);
        } else {
            scale_openmp_static(p.in, p.out, count, k, workers);
        }
    });
}

void bm_reduce_openmp(benchmark::State& state, std::size_t n) {
    const auto workers = static_cast<int>(state.range(0));
    if (!team_ok(state, workers)) {
        return;
    }
    const double expected = ensure_reduce_data(n);
    const double* v = g_values.data();
    const auto count = static_cast<std::int64_t>(n);
    reduce_loop(state, n, expected, [&] { return sum_openmp(v, count, workers); });
}
#endif

// --- sort, scan, pipeline ----------------------------------------------------------------

void ensure_sort_data(std::size_t n) {
    release_except(&g_sort_input);
    if (g_sort_input.size() == n) {
        return;
    }
    g_sort_input.resize(n);
    std::mt19937 gen{12345};
    for (int& v : g_sort_input) {
        v = static_cast<int>(gen());
    }
    g_sort_sorted = g_sort_input;
    std::sort(g_sort_sorted.begin(), g_sort_sorted.end());
    g_sort_work.resize(n);
}

/// Runs the timed loop of sort: `call()` sorts g_sort_work, which is restored from the
/// input before (and checked after) every call, both untimed.
template <class Call>
void sort_loop(benchmark::State& state, std::size_t n, Call&& call) {
    ensure_sort_data(n);
    for (auto _ : state) {
        state.PauseTiming();
        std::copy(g_sort_input.begin(), g_sort_input.end(), g_sort_work.begin());
        state.ResumeTiming();
        call(g_sort_work.data(), g_sort_work.data() + n);
        state.PauseTiming();
        const bool ok = g_sort_work == g_sort_sorted;
        state.ResumeTiming();
        if (!ok) {
            state.SkipWithError("wrong answer: the result differs from std::sort's");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
}

long scan_input_at(std::size_t i) {
    return static_cast<long>(i % 8);
}

/// The inclusive prefix sum of scan_input_at over [0, i].
long scan_expected_at(std::size_t i) {
    const std::size_t count = i + 1;
    const auto rounds = static_cast<long>(count / 8);
    const auto rest = static_cast<long>(count % 8);
    return rounds * 28 + rest * (rest - 1) / 2;
}

/// Runs the timed loop of scan: `call(first, last)` scans [first, last) in place; the
/// input is restored before, and every prefix checked after, each call (untimed).
template <class Call>
void scan_loop(benchmark::State& state, std::size_t n, Call&& call) {
    release_except(&g_scan);
    g_scan.resize(n);
    for (auto _ : state) {
        state.PauseTiming();
        for (std::size_t i = 0; i < n; ++i) {
            g_scan[i] = scan_input_at(i);
        }
        state.ResumeTiming();
        call(g_scan.data(), g_scan.data() + n);
        state.PauseTiming();
        std::size_t wrong = n;
        for (std::size_t i = 0; i < n && wrong == n; ++i) {
            if (g_scan[i] != scan_expected_at(i)) {
                wrong = i;
            }
        }
        state.ResumeTiming();
        if (wrong != n) {
            state.SkipWithError(("wrong answer: prefix " + std::to_string(wrong) + " is " +
                                 std::to_string(g_scan[wrong]) + ", expected " +
                                 std::to_string(scan_expected_at(wrong)))
                                    .c_str());
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
}

/// The pipeline's parallel stage: `work` xorshift steps from the item.
std::uint64_t pipeline_work(std::int64_t item) {
    auto x = static_cast<std::uint64_t>(item) * 0x9E3779B97F4A7C15ULL + 1;
    for (std::int64_t k = 0; k < g_pipeline_work; ++k) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

/// The pipeline's sink: checks the order and sums. Serial: one call at a time.
struct pipeline_sink {
    std::int64_t m_next = 0;
    std::uint64_t m_sum = 0;
    bool m_in_order = true;
    void operator()(std::int64_t item, std::uint64_t value) {
        m_in_order = m_in_order && item == m_next;
        ++m_next;
        m_sum += value;
    }
};

std::uint64_t pipeline_expected() {
    pipeline_sink sink;
    for (std::int64_t i = 0; i < g_pipeline_n; ++i) {
        sink(i, pipeline_work(i));
    }
    return sink.m_sum;
}

/// Runs the timed loop of pipeline: `call(sink)` runs the whole pipeline once.
template <class Call>
void pipeline_loop(benchmark::State& state, Call&& call) {
    const std::uint64_t expected = pipeline_expected();
    for (auto _ : state) {
        pipeline_sink sink;
        call(sink);
        if (!sink.m_in_order || sink.m_next != g_pipeline_n || sink.m_sum != expected) {
            state.SkipWithError(
                "wrong answer: the sink saw items out of order, too few, or a "
                "wrong sum");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * g_pipeline_n);
}

void bm_sort_serial(benchmark::State& state, std::size_t n) {
    sort_loop(state, n, [](int* first, int* last) { std::sort(first, last); });
}

void bm_scan_serial(benchmark::State& state, std::size_t n) {
    scan_loop(state, n, [](long* first, long* last) { std::inclusive_scan(first, last, first); });
}

void bm_pipeline_serial(benchmark::State& state) {
    pipeline_loop(state, [](pipeline_sink& sink) {
        for (std::int64_t i = 0; i < g_pipeline_n; ++i) {
            sink(i, pipeline_work(i));
        }
    });
}

void bm_sort_weft(benchmark::State& state, std::size_t n) {
    try {
        weft::executor ex{options_for(state)};
        if (executor_ok(state, ex)) {
            sort_loop(state, n,
                      [&ex](int* first, int* last) { weft::parallel_sort(ex, first, last); });
        }
    } catch (...) {
        skip_on_exception(state, "weft::parallel_sort");
    }
}

void bm_scan_weft(benchmark::State& state, std::size_t n) {
    try {
        weft::executor ex{options_for(state)};
        if (executor_ok(state, ex)) {
            scan_loop(state, n, [&ex](long* first, long* last) {
                weft::parallel_inclusive_scan(ex, first, last, first);
            });
        }
    } catch (...) {
        skip_on_exception(state, "weft::parallel_inclusive_scan");
    }
}

using pipeline_item = std::pair<std::int64_t, std::uint64_t>;

void bm_pipeline_weft(benchmark::State& state) {
    try {
        weft::executor ex{options_for(state)};
        if (!executor_ok(state, ex)) {
            return;
        }
        const auto in_flight = static_cast<std::size_t>(4 * state.range(0));
        pipeline_loop(state, [&](pipeline_sink& sink) {
            std::int64_t next = 0;
            weft::parallel_pipeline(
                ex, in_flight,
                weft::stage(weft::stage_mode::serial_in_order,
                            [&next]() -> std::optional<std::int64_t> {
                                if (next == g_pipeline_n) {
                                    return std::nullopt;
                                }
                                return next++;
                            }),
                weft::stage(weft::stage_mode::parallel,
                            [](std::int64_t item) {
                                return pipeline_item{item, pipeline_work(item)};
                            }),
                weft::stage(weft::stage_mode::serial_in_order,
                            [&sink](pipeline_item r) { sink(r.first, r.second); }));
        });
    } catch (...) {
        skip_on_exception(state, "weft::parallel_pipeline");
    }
}

#ifdef WEFT_BENCH_HAVE_TBB
void bm_sort_tbb(benchmark::State& state, std::size_t n) {
    const auto workers = static_cast<int>(state.range(0));
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);
    if (!arena_ok(state, arena)) {
        return;
    }
    sort_loop(state, n, [&arena](int* first, int* last) {
        arena.execute([&] { tbb::parallel_sort(first, last); });
    });
}

void bm_scan_tbb(benchmark::State& state, std::size_t n) {
    const auto workers = static_cast<int>(state.range(0));
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);
    if (!arena_ok(state, arena)) {
        return;
    }
    scan_loop(state, n, [&arena](long* first, long* last) {
        const auto count = static_cast<std::size_t>(last - first);
        arena.execute([&] {
            tbb::parallel_scan(
                tbb::blocked_range<std::size_t>(0, count), 0L,
                [first](const tbb::blocked_range<std::size_t>& r, long sum, bool is_final) {
                    for (std::size_t i = r.begin(); i != r.end(); ++i) {
                        sum += first[i];
                        if (is_final) {
                            first[i] = sum;
                        }
                    }
                    return sum;
                },
                [](long a, long b) { return a + b; });
        });
    });
}

void bm_pipeline_tbb(benchmark::State& state) {
    const auto workers = static_cast<int>(state.range(0));
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);
    if (!arena_ok(state, arena)) {
        return;
    }
    const auto tokens = static_cast<std::size_t>(4 * workers);
    pipeline_loop(state, [&](pipeline_sink& sink) {
        std::int64_t next = 0;
        arena.execute([&] {
            tbb::parallel_pipeline(tokens,
                                   tbb::make_filter<void, std::int64_t>(
                                       tbb::filter_mode::serial_in_order,
                                       [&next](tbb::flow_control& fc) -> std::int64_t {
                                           if (next == g_pipeline_n) {
                                               fc.stop();
                                               return 0;
                                           }
                                           return next++;
                                       }) &
                                       tbb::make_filter<std::int64_t, pipeline_item>(
                                           tbb::filter_mode::parallel,
                                           [](std::int64_t item) {
                                               return pipeline_item{item, pipeline_work(item)};
                                           }) &
                                       tbb::make_filter<pipeline_item, void>(
                                           tbb::filter_mode::serial_in_order,
                                           [&sink](pipeline_item r) { sink(r.first, r.second); }));
        });
    });
}
#endif

void register_for(const std::string& family, std::size_t n, const std::vector<int>& workers,
                  benchmark::TimeUnit unit) {
    benchmark::RegisterBenchmark((family + "/serial").c_str(), bm_for_serial, n)
        ->UseRealTime()
        ->Unit(unit);
    register_sweep(family + "/weft", bm_for_weft, workers, n, weft_mode::lazy)->Unit(unit);
    register_sweep(family + "/weft_static", bm_for_weft, workers, n, weft_mode::static_blocks)
        ->Unit(unit);
    register_sweep(family + "/weft_in_worker", bm_for_weft, workers, n, weft_mode::in_worker)
        ->Unit(unit);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep(family + "/tbb", bm_for_tbb, workers, n)->Unit(unit);
#endif
#ifdef WEFT_BENCH_HAVE_OPENMP
    register_sweep(family + "/openmp_static", bm_for_openmp, workers, n, false)->Unit(unit);
    register_sweep(family + "/openmp_dynamic", bm_for_openmp, workers, n, true)->Unit(unit);
#endif
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    const char* for_flags[3] = {"for_small", "for_medium", "for_large"};
    for (int i = 0; i < 3; ++i) {
        g_for_sizes[i] = weft_bench::take_int_flag(argc, argv, for_flags[i], g_for_sizes[i]);
    }
    g_reduce_n = weft_bench::take_int_flag(argc, argv, "reduce", g_reduce_n);
    g_sort_n = weft_bench::take_int_flag(argc, argv, "sort", g_sort_n);
    g_scan_n = weft_bench::take_int_flag(argc, argv, "scan", g_scan_n);
    g_pipeline_n = weft_bench::take_int_flag(argc, argv, "pipeline", g_pipeline_n);
    g_pipeline_work = weft_bench::take_int_flag(argc, argv, "pipeline_work", g_pipeline_work);
    constexpr std::int64_t k_max = std::int64_t{1} << 31;
    for (const std::int64_t n : {g_for_sizes[0], g_for_sizes[1], g_for_sizes[2], g_reduce_n,
                                 g_sort_n, g_scan_n, g_pipeline_n}) {
        if (n < 1 || n > k_max) {
            std::cerr << "--for_small, --for_medium, --for_large, --reduce, --sort, --scan, "
                         "--pipeline want 1 .. 2^31\n";
            return 2;
        }
    }

    const benchmark::TimeUnit units[3] = {benchmark::kNanosecond, benchmark::kMicrosecond,
                                          benchmark::kMillisecond};
    for (int i = 0; i < 3; ++i) {
        register_for(for_flags[i], static_cast<std::size_t>(g_for_sizes[i]), workers, units[i]);
    }
    const auto n = static_cast<std::size_t>(g_reduce_n);
    const auto ms = benchmark::kMillisecond;
    benchmark::RegisterBenchmark("reduce_sum/serial", bm_reduce_serial, n)->UseRealTime()->Unit(ms);
    register_sweep("reduce_sum/weft", bm_reduce_weft, workers, n, weft_mode::lazy)->Unit(ms);
    register_sweep("reduce_sum/weft_in_worker", bm_reduce_weft, workers, n, weft_mode::in_worker)
        ->Unit(ms);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("reduce_sum/tbb", bm_reduce_tbb, workers, n)->Unit(ms);
#endif
#ifdef WEFT_BENCH_HAVE_OPENMP
    register_sweep("reduce_sum/openmp_static", bm_reduce_openmp, workers, n)->Unit(ms);
#endif

    const auto sort_n = static_cast<std::size_t>(g_sort_n);
    benchmark::RegisterBenchmark("sort/serial", bm_sort_serial, sort_n)->UseRealTime()->Unit(ms);
    register_sweep("sort/weft", bm_sort_weft, workers, sort_n)->Unit(ms);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("sort/tbb", bm_sort_tbb, workers, sort_n)->Unit(ms);
#endif
    const auto scan_n = static_cast<std::size_t>(g_scan_n);
    benchmark::RegisterBenchmark("scan/serial", bm_scan_serial, scan_n)->UseRealTime()->Unit(ms);
    register_sweep("scan/weft", bm_scan_weft, workers, scan_n)->Unit(ms);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("scan/tbb", bm_scan_tbb, workers, scan_n)->Unit(ms);
#endif
    benchmark::RegisterBenchmark("pipeline/serial", bm_pipeline_serial)->UseRealTime()->Unit(ms);
    register_sweep("pipeline/weft", bm_pipeline_weft, workers)->Unit(ms);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("pipeline/tbb", bm_pipeline_tbb, workers)->Unit(ms);
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
