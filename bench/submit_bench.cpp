// External submission: one outside thread (family `submit`) or several (`submit_4p`,
// `--producers=`) hand empty tasks to a warm pool, and the clock stops when all ran.
//
// Each task only counts itself into a completion_latch; the benchmark thread sleeps on it.
// Every peer uses the same latch, so the waiting costs the same. After each iteration the
// count must equal the number submitted, and after the pool is gone it must still equal
// it (no task ran twice); a mismatch is an error.
//
//   weft        executor::post
//   tbb         task_arena(workers, 0)::enqueue — no slot reserved for the submitter, so
//               `workers` TBB threads run the tasks, as with the others
//   mutex_pool  bench/peers/mutex_pool.hpp
//   std_async   std::async(std::launch::async) per task — a thread per task, so it runs
//               `--async_tasks=` (10⁴) instead of `--tasks=` (10⁶); compare ns_per_task
//
// Per-task wall time is the counter `ns_per_task`; items_per_second is its inverse.
// With several producers, starting and joining the producer threads is not timed.
// Flags: --tasks=1000000 --async_tasks=10000 --producers=4 --workers=LIST.
#include "bench_support.hpp"
#include "peers/mutex_pool.hpp"

#include <weft/weft.hpp>

#include <atomic>
#include <cstdint>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#endif

namespace {

using weft_bench::completion_latch;

std::int64_t g_tasks = 1'000'000;
std::int64_t g_async_tasks = 10'000;

constexpr std::int64_t k_warmup_tasks = 1000;

struct no_cleanup {
    void operator()() const noexcept {}
};

// One round: `producers` threads (the benchmark thread itself when 1) call `submit_one`
// `tasks / producers` times each. Returns once the latch has seen every task and
// `after_round` (std::async: get the futures) has run; only the producer threads' start
// and join are left out of the time.
template <class Submit, class After>
void one_round(benchmark::State& state, completion_latch& latch, std::int64_t tasks,
               int producers, weft_bench::stopwatch& watch, Submit& submit_one,
               After& after_round) {
    latch.reset(static_cast<std::size_t>(tasks));
    if (producers == 1) {
        watch.start();
        for (std::int64_t i = 0; i < tasks; ++i) {
            submit_one();
        }
        latch.wait();
        after_round();
        watch.stop();
        return;
    }
    state.PauseTiming();
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&] {
            go.wait(false, std::memory_order_acquire);  // pairs with the release store below
            for (std::int64_t i = 0; i < tasks / producers; ++i) {
                submit_one();
            }
        });
    }
    state.ResumeTiming();
    watch.start();
    go.store(true, std::memory_order_release);  // pairs with the producers' acquire wait
    go.notify_all();
    latch.wait();
    watch.stop();
    state.PauseTiming();
    for (auto& t : threads) {
        t.join();
    }
    state.ResumeTiming();
    watch.start();
    after_round();
    watch.stop();
}

// An untimed warm-up round, then the timed rounds; checks the count after each.
template <class Submit, class After = no_cleanup>
bool drive(benchmark::State& state, completion_latch& latch, std::int64_t tasks,
           int producers, Submit submit_one, After after_round = {}) {
    if (producers < 1 || tasks % producers != 0) {
        state.SkipWithError("task count must be a multiple of the producer count");
        return false;
    }
    latch.reset(k_warmup_tasks);
    for (std::int64_t i = 0; i < k_warmup_tasks; ++i) {
        submit_one();
    }
    latch.wait();
    after_round();
    weft_bench::stopwatch watch;
    for (auto _ : state) {
        one_round(state, latch, tasks, producers, watch, submit_one, after_round);
        if (latch.count() != static_cast<std::size_t>(tasks)) {
            state.SkipWithError("completion count differs from the number submitted");
            return false;
        }
    }
    weft_bench::report_per_task(state, watch, tasks);
    return true;
}

// Called once the pool is destroyed: by then every task has finished.
void check_final(benchmark::State& state, const completion_latch& latch, std::int64_t tasks) {
    if (!state.error_occurred() && latch.count() != static_cast<std::size_t>(tasks)) {
        state.SkipWithError("a task ran after its round completed (ran twice?)");
    }
}

void bm_weft(benchmark::State& state, int producers) {
    static completion_latch latch;  // static: see completion_latch
    {
        using workers_t = decltype(weft::executor_options{}.workers);
        weft::executor ex{
            weft::executor_options{.workers = static_cast<workers_t>(state.range(0))}};
        if (ex.worker_count() != static_cast<std::size_t>(state.range(0))) {
            state.SkipWithError("executor did not start the requested number of workers");
            return;
        }
        drive(state, latch, g_tasks, producers, [&] { ex.post([] { latch.arrive(); }); });
    }
    check_final(state, latch, g_tasks);
}

#ifdef WEFT_BENCH_HAVE_TBB
void bm_tbb(benchmark::State& state, int producers) {
    static completion_latch latch;
    const auto workers = static_cast<int>(state.range(0));
    {
        // max_allowed_parallelism counts one master: `workers + 1` lets `workers` TBB
        // worker threads serve an arena that no outside thread joins.
        const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                        static_cast<std::size_t>(workers) + 1);
        tbb::task_arena arena(workers, 0);
        arena.initialize();
        drive(state, latch, g_tasks, producers, [&] { arena.enqueue([] { latch.arrive(); }); });
    }
    check_final(state, latch, g_tasks);
}
#endif

void bm_mutex_pool(benchmark::State& state, int producers) {
    static completion_latch latch;
    {
        weft_bench::mutex_pool pool(static_cast<std::size_t>(state.range(0)));
        drive(state, latch, g_tasks, producers, [&] { pool.submit([] { latch.arrive(); }); });
    }
    check_final(state, latch, g_tasks);
}

void bm_std_async(benchmark::State& state, int producers) {
    static completion_latch latch;
    state.SetLabel(std::to_string(g_async_tasks) + " tasks, one thread each");
    std::mutex futures_mutex;
    std::vector<std::future<void>> futures;
    auto submit_one = [&] {
        auto f = std::async(std::launch::async, [] { latch.arrive(); });
        const std::lock_guard lock(futures_mutex);
        futures.push_back(std::move(f));
    };
    auto get_all = [&] {  // a std::async future joins its thread; that is part of the cost
        for (auto& f : futures) {
            f.get();
        }
        futures.clear();
    };
    if (drive(state, latch, g_async_tasks, producers, submit_one, get_all)) {
        check_final(state, latch, g_async_tasks);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    g_tasks = weft_bench::take_int_flag(argc, argv, "tasks", g_tasks);
    g_async_tasks = weft_bench::take_int_flag(argc, argv, "async_tasks", g_async_tasks);
    const auto many = static_cast<int>(weft_bench::take_int_flag(argc, argv, "producers", 4));

    for (const int producers : {1, many}) {
        const std::string family =
            producers == 1 ? "submit" : "submit_" + std::to_string(producers) + "p";
        auto sweep = [&](const std::string& impl, auto fn) {
            weft_bench::register_sweep(family + "/" + impl, fn, workers, producers)
                ->Unit(benchmark::kMillisecond);
        };
        sweep("weft", bm_weft);
#ifdef WEFT_BENCH_HAVE_TBB
        sweep("tbb", bm_tbb);
#endif
        sweep("mutex_pool", bm_mutex_pool);
        benchmark::RegisterBenchmark((family + "/std_async").c_str(), bm_std_async, producers)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        if (many == 1) {
            break;
        }
    }
    return weft_bench::run_benchmarks(argc, argv);
}
